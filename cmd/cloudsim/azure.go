package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
)

// azureCloud serves the Azure simulator in the range, on the TLS listener:
// azcore refuses to send bearer tokens over plain http.
type azureCloud struct {
	*azuresim.Server
}

// tlsCloud is a cloud served on the range's TLS listener.
type tlsCloud interface {
	TLSConfig() *tls.Config
}

// loadAzureCloud builds the Azure cloud. With a saver, its CA is kept in
// STATE_DIR/azure-ca.pem (owner only: it holds the CA key), so that clients
// keep trusting the range across restarts, and its state is restored.
func loadAzureCloud(raw json.RawMessage, baseDir string, logger *slog.Logger, saver *stateSaver) (*azureCloud, error) {
	sc, err := azuresim.ParseScenario(raw, baseDir)
	if err != nil {
		return nil, err
	}
	opts := &azuresim.Options{Logger: logger.With("cloud", "azure")}
	if saver == nil {
		sim, err := azuresim.New(sc, opts)
		if err != nil {
			return nil, err
		}
		return &azureCloud{sim}, nil
	}
	if opts.CA, err = keptCA(filepath.Join(saver.dir, "azure-ca.pem")); err != nil {
		return nil, err
	}
	opts.OnChange = saver.changed
	f, err := openState(saver.dir, "azure")
	if err != nil {
		return nil, err
	}
	if f != nil {
		defer f.Close()
		opts.State = f
	}
	sim, err := azuresim.New(sc, opts)
	if errors.Is(err, azuresim.ErrStateRefused) {
		return nil, fmt.Errorf("%s: %w; or remove that file to start afresh from the scenario", f.Name(), err)
	}
	if err != nil {
		return nil, err
	}
	return &azureCloud{sim}, nil
}

// keptCA loads the CA saved at path, or makes one and saves it there.
func keptCA(path string) (*azuresim.CA, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		ca, err := azuresim.LoadCA(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (remove it to make a new CA)", path, err)
		}
		return ca, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ca, err := azuresim.NewCA()
	if err != nil {
		return nil, err
	}
	pem, err := ca.PEM()
	if err != nil {
		return nil, err
	}
	return ca, os.WriteFile(path, pem, 0o600)
}

func (a *azureCloud) Name() string { return "azure" }

// Claims takes what arrives on the TLS listener.
func (a *azureCloud) Claims(r *http.Request) bool { return r.TLS != nil }

func (a *azureCloud) Restored() (string, bool) {
	summary, ok := a.RestoredState()
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s (saved %s)", summary, summary.SavedAt.Format(time.RFC3339)), true
}

// responder is the principal the env file signs in as: the one named
// "responder", else the first with a secret.
func (a *azureCloud) responder() (azuresim.PrincipalInfo, string, bool) {
	var first *azuresim.PrincipalInfo
	for _, p := range a.Principals() {
		if !p.HasSecret {
			continue
		}
		if p.Name == "responder" {
			return p, a.ClientSecret(p.ClientID), true
		}
		if first == nil {
			first = &p
		}
	}
	if first == nil {
		return azuresim.PrincipalInfo{}, "", false
	}
	return *first, a.ClientSecret(first.ClientID), true
}

// WriteClientFiles writes the CA certificate, a principals file (client
// IDs and secrets, owner only) and an az custom-cloud registration script,
// and returns the environment azidentity and az read.
func (a *azureCloud) WriteClientFiles(dir, endpoint string) ([]envVar, error) {
	azDir := filepath.Join(dir, "azure")
	if err := os.MkdirAll(azDir, 0o700); err != nil {
		return nil, err
	}
	caPath := filepath.Join(azDir, "ca.pem")
	if err := os.WriteFile(caPath, a.CA().CertPEM(), 0o644); err != nil {
		return nil, err
	}
	p, secret, ok := a.responder()
	if !ok {
		return nil, fmt.Errorf("the scenario has no service principal with a client secret")
	}
	var principals strings.Builder
	for _, q := range a.Principals() {
		fmt.Fprintf(&principals, "%s tenant=%s clientId=%s", q.Name, q.TenantID, q.ClientID)
		if q.HasSecret {
			fmt.Fprintf(&principals, " clientSecret=%s", a.ClientSecret(q.ClientID))
		}
		principals.WriteString("\n")
	}
	if err := os.WriteFile(filepath.Join(azDir, "principals"), []byte(principals.String()), 0o600); err != nil {
		return nil, err
	}
	// az (MSAL Python) validates any other custom authority at
	// login.microsoftonline.com; an AD FS-style authority is validated by
	// its own metadata, which the range serves. The hybrid API profile
	// keeps az on API versions Debian's python3-azure ships (bookworm's
	// lacks the compute versions az 2.45's latest profile names).
	script := `#!/bin/sh
# Written by cloudsim: registers the range as a custom cloud for the Azure CLI and signs in as the responder.
# Run it after sourcing the env file (set -a; . cloudsim.env; set +a).
set -e
az cloud register --name AzureSim --profile 2020-09-01-hybrid \
  --endpoint-resource-manager "$CLOUDSIM_AZURE_ARM_ENDPOINT/" \
  --endpoint-active-directory "$CLOUDSIM_AZURE_ARM_ENDPOINT/adfs" \
  --endpoint-active-directory-resource-id "https://management.core.windows.net/" \
  --endpoint-active-directory-graph-resource-id "https://graph.windows.net/" \
  --suffix-storage-endpoint "blob.azuresim.local" --suffix-keyvault-dns ".vault.azuresim.local" >/dev/null 2>&1 ||
  az cloud update --name AzureSim --endpoint-resource-manager "$CLOUDSIM_AZURE_ARM_ENDPOINT/" \
    --endpoint-active-directory "$CLOUDSIM_AZURE_ARM_ENDPOINT/adfs" >/dev/null
az cloud set --name AzureSim
az login --service-principal --username "$AZURE_CLIENT_ID" --password "$AZURE_CLIENT_SECRET" --tenant "$AZURE_TENANT_ID" --output none
`
	if err := os.WriteFile(filepath.Join(azDir, "az-register.sh"), []byte(script), 0o700); err != nil {
		return nil, err
	}
	return []envVar{
		{"AZURE_AUTHORITY_HOST", endpoint + "/"},
		{"AZURE_TENANT_ID", p.TenantID},
		{"AZURE_CLIENT_ID", p.ClientID},
		{"AZURE_CLIENT_SECRET", secret},
		{"CLOUDSIM_AZURE_ARM_ENDPOINT", endpoint},
		{"CLOUDSIM_AZURE_CA_FILE", caPath},
		{"CLOUDSIM_AZURE_AZ_REGISTER", filepath.Join(azDir, "az-register.sh")},
		{"SSL_CERT_FILE", caPath},
		{"REQUESTS_CA_BUNDLE", caPath},
	}, nil
}

// Summary lists tenants' principals and subscriptions, without secrets.
func (a *azureCloud) Summary() []string {
	var out []string
	for _, s := range a.Subscriptions() {
		out = append(out, fmt.Sprintf("subscription %s %q (tenant %s)", s.ID, s.Name, s.TenantID))
	}
	for _, p := range a.Principals() {
		out = append(out, fmt.Sprintf("service principal %s: client ID %s, tenant %s", p.Name, p.ClientID, p.TenantID))
	}
	return append(out, "TLS only; trust CLOUDSIM_AZURE_CA_FILE; az: run $CLOUDSIM_AZURE_AZ_REGISTER")
}
