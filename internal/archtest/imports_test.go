// Package archtest holds the test that keeps the architecture's dependency rules (docs/architecture.md).
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/acquire-forensics/acquire"

// cloudSDKs are the import path prefixes of each cloud's SDK.
var cloudSDKs = map[string][]string{
	"aws":   {"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
	"gcp":   {"cloud.google.com/go/compute", "cloud.google.com/go/storage", "google.golang.org/api/compute", "google.golang.org/api/iamcredentials"},
	"azure": {"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager", "github.com/Azure/azure-sdk-for-go/sdk/azidentity", "github.com/Azure/azure-sdk-for-go/sdk/storage"},
}

// deps lists every package of the module with its dependencies, as the go command builds them (tests
// aside).
func deps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	all := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		all[f[0]] = f[1:]
	}
	return all
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

func sdkOf(dep string) string {
	for cloud, prefixes := range cloudSDKs {
		for _, p := range prefixes {
			if under(dep, p) {
				return cloud
			}
		}
	}
	return ""
}

// TestDependencyRules: custody imports no cloud SDK and nothing of the engine; the engine and its
// neutral packages import no cloud SDK and no driver; each driver imports only its own SDK and not the
// engine; a simulator never imports its driver (nor anything of providers but itself); analysis reaches
// evidence through the engine's interfaces, never a driver's package.
func TestDependencyRules(t *testing.T) {
	all := deps(t)
	clouds := []string{"aws", "gcp", "azure"}
	checked := 0
	for pkg, ds := range all {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		sim, simCloud := "", ""
		for _, c := range clouds {
			if under(rel, "providers/"+c+"/"+c+"sim") {
				sim, simCloud = "providers/"+c+"/"+c+"sim", c
			}
		}
		for _, dep := range ds {
			drel, own := strings.CutPrefix(dep, module+"/")
			sdk := sdkOf(dep)
			switch {
			case under(rel, "custody") && (sdk != "" || own && under(drel, "providers")):
				t.Errorf("%s imports %s: custody imports no cloud SDK and nothing of providers", rel, dep)
			case (under(rel, "providers/driver") || under(rel, "providers/evidence") || under(rel, "providers/acquisition") ||
				under(rel, "providers/providertest") || under(rel, "providers/memcloud")) && (sdk != "" || own && isDriver(drel)):
				t.Errorf("%s imports %s: the engine and its neutral packages import no cloud SDK and no driver", rel, dep)
			case sim != "" && own && under(drel, "providers") && !under(drel, sim):
				t.Errorf("%s imports %s: a simulator never imports its driver or the engine", rel, dep)
			case sim != "" && sdk != "" && sdk != simCloud:
				t.Errorf("%s imports %s: a simulator imports only its own cloud's SDK", rel, dep)
			case sim == "" && driverCloud(rel) != "" && sdk != "" && sdk != driverCloud(rel):
				t.Errorf("%s imports %s: a driver imports only its own cloud's SDK", rel, dep)
			case sim == "" && driverCloud(rel) != "" && own && (under(drel, "providers/acquisition") || isDriver(drel) && driverCloud(drel) != driverCloud(rel)):
				t.Errorf("%s imports %s: a driver imports neither the engine nor another cloud's driver", rel, dep)
			case under(rel, "analysis") && own && isDriver(drel):
				t.Errorf("%s imports %s: analysis reaches evidence through the engine's interfaces, not a driver's package", rel, dep)
			}
		}
		checked++
	}
	for _, want := range []string{"custody", "providers/acquisition", "providers/aws", "providers/aws/awssim", "analysis/export"} {
		if _, ok := all[module+"/"+want]; !ok {
			t.Errorf("go list does not list %s: the rules check nothing there", want)
		}
	}
	if checked < 20 {
		t.Errorf("only %d packages listed", checked)
	}
}

// driverCloud is the cloud a driver package belongs to, or "" for packages that are no driver.
func driverCloud(rel string) string {
	for _, c := range []string{"aws", "gcp", "azure"} {
		if under(rel, "providers/"+c) && !under(rel, "providers/"+c+"/"+c+"sim") {
			return c
		}
	}
	return ""
}

func isDriver(rel string) bool { return driverCloud(rel) != "" }

// TestRulesCatchViolations: the checks above would see a violation (a driver package as a dependency
// of analysis), so that they cannot pass by checking nothing.
func TestRulesCatchViolations(t *testing.T) {
	if !isDriver("providers/aws/ebsblocks") || isDriver("providers/aws/awssim") || driverCloud("providers/gcp") != "gcp" {
		t.Fatal("the driver classification is wrong")
	}
	if sdkOf("github.com/aws/aws-sdk-go-v2/service/ec2") != "aws" || sdkOf("cloud.google.com/go/compute/apiv1") != "gcp" || sdkOf("golang.org/x/time/rate") != "" {
		t.Fatal("the SDK classification is wrong")
	}
}
