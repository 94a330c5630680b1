package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"github.com/acquire-forensics/acquire/internal/testenv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

const azureScenario = `{"azure": {
  "seed": 1, "snapshotBytesPerSecond": -1,
  "tenants": [{"id": "7c1e5a2b-4d3f-4e8a-9b6c-0d1e2f3a4b5c", "name": "contoso", "principals": [
    {"name": "responder", "clientId": "5a6b7c8d-0e1f-4a2b-8c3d-4e5f6a7b8c01", "clientSecret": "range-test-secret"}]}],
  "subscriptions": [{"id": "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01", "name": "workload", "tenant": "7c1e5a2b-4d3f-4e8a-9b6c-0d1e2f3a4b5c",
    "roleAssignments": [{"principal": "responder", "role": "Contributor"}],
    "resourceGroups": [{"name": "rg-web", "location": "westeurope",
      "disks": [{"name": "web-1-os", "osType": "Linux", "synthetic": {"chunks": [0, 3]}}],
      "virtualMachines": [{"name": "web-1", "osDisk": "web-1-os"}]}]}]}}`

// startAzureRange runs cloudsim in-process on an Azure scenario.
func startAzureRange(t *testing.T) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	scenario := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(scenario, []byte(azureScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	ctx, cancel := context.WithCancel(context.Background())
	out, outWriter := io.Pipe()
	var wg sync.WaitGroup
	var stdout strings.Builder
	wg.Go(func() {
		if code := run(ctx, []string{"--scenario", scenario, "--state-dir", stateDir}, io.MultiWriter(outWriter, &stdout), io.Discard); code != exitOK {
			t.Errorf("cloudsim exit %d", code)
		}
		outWriter.Close()
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if strings.Contains(stdout.String(), "range-test-secret") {
			t.Error("the client secret reached the terminal")
		}
	})
	waitReady(t, out)
	return readEnvFile(t, filepath.Join(stateDir, "cloudsim.env")), stateDir
}

// The range serves Azure over TLS to the unmodified SDK clients, with the
// environment the env file gives them.
func TestAzureRangeServesSDK(t *testing.T) {
	env, stateDir := startAzureRange(t)
	for _, name := range []string{"AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "CLOUDSIM_AZURE_ARM_ENDPOINT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"} {
		if env[name] == "" {
			t.Fatalf("env file lacks %s", name)
		}
	}
	for _, f := range []string{"azure-ca.pem", "azure/principals", "cloudsim.env"} {
		if info, err := os.Stat(filepath.Join(stateDir, f)); err != nil || info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, mode %v (secrets must be the owner's only)", f, err, info.Mode())
		}
	}
	caPEM, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for k, v := range env {
		if strings.HasPrefix(k, "AZURE_") {
			t.Setenv(k, v)
		}
	}
	opts := azcore.ClientOptions{Transport: client}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	opts.Cloud = azcloud.Configuration{ActiveDirectoryAuthorityHost: env["AZURE_AUTHORITY_HOST"],
		Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{azcloud.ResourceManager: {Endpoint: env["CLOUDSIM_AZURE_ARM_ENDPOINT"], Audience: "https://management.core.windows.net/"}}}
	vms, err := armcompute.NewVirtualMachinesClient("3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01", cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := vms.Get(context.Background(), "rg-web", "web-1", nil)
	if err != nil || !strings.HasSuffix(*vm.Properties.StorageProfile.OSDisk.ManagedDisk.ID, "/disks/web-1-os") {
		t.Fatalf("vm: %v", err)
	}
}

// azCLI finds the Azure CLI on PATH. Under CI it must be there.
func azCLI(t *testing.T) string { return testenv.RequireTool(t, "az", "--version") }

// The responder's own tool: az registers the range as a custom cloud,
// signs in as the service principal, and reads the VM and the snapshots.
func TestAzureCLI(t *testing.T) {
	az := azCLI(t)
	env, _ := startAzureRange(t)
	home := t.TempDir()
	cmdEnv := []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_NO_COLOR=true"}
	for k, v := range env {
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	runAz := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, az, args...)
		cmd.Env = cmdEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("az %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	reg := exec.Command("sh", env["CLOUDSIM_AZURE_AZ_REGISTER"])
	reg.Env = append(cmdEnv, "PATH=/usr/bin:/bin")
	if out, err := reg.CombinedOutput(); err != nil {
		t.Fatalf("az-register.sh: %v\n%s", err, out)
	}
	var vm map[string]any
	if err := json.Unmarshal([]byte(runAz("vm", "show", "-g", "rg-web", "-n", "web-1", "-o", "json")), &vm); err != nil || vm["name"] != "web-1" {
		t.Fatalf("az vm show: %v %v", err, vm)
	}
	var snaps []any
	if err := json.Unmarshal([]byte(runAz("snapshot", "list", "-o", "json")), &snaps); err != nil || len(snaps) != 0 {
		t.Fatalf("az snapshot list: %v %v", err, snaps)
	}
}
