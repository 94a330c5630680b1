package azuresim

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
)

// The Permissions API lists one entry per role assignment that applies at the resource group, with the
// role's actions and exclusions, to the unmodified armauthorization client.
func TestPermissionsListForResourceGroup(t *testing.T) {
	e := newEnv(t)
	list := func(clientID, sub, rg string) ([]*armauthorization.Permission, error) {
		c, err := armauthorization.NewPermissionsClient(sub, e.cred(clientID), e.armOptions())
		if err != nil {
			t.Fatal(err)
		}
		var out []*armauthorization.Permission
		p := c.NewListForResourceGroupPager(rg, nil)
		for p.More() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				return nil, err
			}
			out = append(out, page.Value...)
		}
		return out, nil
	}
	perms, err := list(responderID, subWorkload, rgWeb)
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) != 1 || !slices.Contains(derefAll(perms[0].Actions), "*") || !slices.Contains(derefAll(perms[0].NotActions), "Microsoft.Authorization/*/Write") {
		t.Fatalf("responder's permissions in the workload: %+v, want Contributor's", perms)
	}
	perms, err = list(responderID, subForensic, rgEvidence)
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) != 2 {
		t.Fatalf("responder's permissions in the forensic subscription: %d entries, want 2 (Disk Snapshot Contributor and Reader)", len(perms))
	}
	perms, err = list(examinerID, subForensic, rgEvidence)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, p := range perms {
		data = append(data, derefAll(p.DataActions)...)
	}
	if !slices.Contains(data, "Microsoft.Compute/snapshots/download/action") {
		t.Errorf("examiner's data actions %v lack the snapshot download", data)
	}
	if _, err := list(responderID, subForensic, "rg-missing"); err == nil {
		t.Error("a missing resource group answered")
	} else {
		respErr(t, err, http.StatusNotFound, "ResourceGroupNotFound")
	}
}

func derefAll(v []*string) []string {
	var out []string
	for _, s := range v {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}
