package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
)

// gcpCloud serves the Google Cloud simulator in the range: Compute Engine,
// OAuth, IAM Credentials and Cloud Storage, claimed by path.
type gcpCloud struct {
	*gcpsim.Server
	firstAccount string
}

// loadGCPCloud builds the Google Cloud simulator, restoring the state saved
// in the saver's directory if there is one. With a saver, bucket objects
// are kept in STATE_DIR/gcp-storage.
func loadGCPCloud(raw json.RawMessage, baseDir string, logger *slog.Logger, saver *stateSaver) (*gcpCloud, error) {
	sc, err := gcpsim.ParseScenario(raw, baseDir)
	if err != nil {
		return nil, err
	}
	opts := &gcpsim.Options{Logger: logger.With("cloud", "gcp")}
	if saver != nil {
		opts.OnChange = saver.changed
		opts.StorageDir = filepath.Join(saver.dir, "gcp-storage")
		f, err := openState(saver.dir, "gcp")
		if err != nil {
			return nil, err
		}
		if f != nil {
			defer f.Close()
			opts.State = f
		}
	}
	sim, err := gcpsim.New(sc, opts)
	if errors.Is(err, gcpsim.ErrStateRefused) {
		return nil, fmt.Errorf("%s: %w; or remove that file to start afresh from the scenario", stateFile(saver.dir, "gcp"), err)
	}
	if err != nil {
		return nil, err
	}
	c := &gcpCloud{Server: sim}
	if accounts := sim.ServiceAccounts(); len(accounts) > 0 {
		c.firstAccount = accounts[0].Email
		for _, p := range sc.Projects {
			if len(p.ServiceAccounts) > 0 {
				c.firstAccount = p.ServiceAccounts[0].Email
				break
			}
		}
	}
	return c, nil
}

func (g *gcpCloud) Name() string { return "gcp" }

// Restored says how much state the simulator restored at start.
func (g *gcpCloud) Restored() (string, bool) {
	summary, ok := g.RestoredState()
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s (saved %s)", summary, summary.SavedAt.Format(time.RFC3339)), true
}

// envName turns an account's name into an environment variable's part.
func envName(email string) string {
	name, _, _ := strings.Cut(email, "@")
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// WriteClientFiles writes a key file per service account into DIR/gcp
// (JSON, type service_account, token_uri the range's /token: Application
// Default Credentials read it unmodified) and an authorized_user file per
// user (user-EMAIL.json) and returns the variables that
// point Google's clients at the range. GOOGLE_APPLICATION_CREDENTIALS names
// the first service account of the scenario (the responder in the example
// scenarios).
func (g *gcpCloud) WriteClientFiles(dir, endpoint string) ([]envVar, error) {
	g.SetStorageURL(endpoint)
	gcpDir := filepath.Join(dir, "gcp")
	if err := os.MkdirAll(gcpDir, 0o700); err != nil {
		return nil, err
	}
	env := []envVar{
		{"CLOUDSIM_GCP_ENDPOINT", endpoint},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", endpoint + "/compute/v1/"},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE", endpoint + "/storage/v1/"},
		// Not STORAGE_EMULATOR_HOST: Google's storage clients then send no credentials, and the range's
		// Cloud Storage, like the cloud's, refuses requests without them.
	}
	for _, sa := range g.ServiceAccounts() {
		key, err := g.KeyFile(sa.Email, endpoint+"/token")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(gcpDir, sa.Email+".json")
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, err
		}
		env = append(env, envVar{"CLOUDSIM_GCP_" + envName(sa.Email) + "_KEY_FILE", path})
		if sa.Email == g.firstAccount {
			env = append(env, envVar{"GOOGLE_APPLICATION_CREDENTIALS", path})
		}
	}
	// Users' authorized_user files name no token endpoint: a client points its user-credential
	// flow at CLOUDSIM_GCP_ENDPOINT/token (acquire gcp does, given --endpoint).
	for _, email := range g.Users() {
		data, err := g.UserFile(email)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(gcpDir, "user-"+email+".json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		env = append(env, envVar{"CLOUDSIM_GCP_" + envName(email) + "_USER_FILE", path})
	}
	if g.firstAccount == "" {
		return nil, fmt.Errorf("the scenario has no service account")
	}
	return env, nil
}

// Summary lists projects and service accounts, without keys.
func (g *gcpCloud) Summary() []string {
	var out []string
	for _, p := range g.Projects() {
		var accounts []string
		for _, sa := range g.ServiceAccounts() {
			if sa.Project == p.ID {
				accounts = append(accounts, sa.Email)
			}
		}
		out = append(out, fmt.Sprintf("project %s (number %d): %s", p.ID, p.Number, strings.Join(accounts, ", ")))
	}
	return append(out, "clients: option.WithEndpoint($CLOUDSIM_GCP_ENDPOINT) and a key file from the env file (GOOGLE_APPLICATION_CREDENTIALS)")
}
