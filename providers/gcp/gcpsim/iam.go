package gcpsim

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// binding is a member's grants in a project, compiled to permission
// patterns.
type binding struct {
	member   string
	roles    []string // the predefined roles granted, as the project's policy shows them
	patterns []string
	custom   bool // single permissions granted: a custom role in the cloud
}

// roles maps the predefined roles a scenario may grant to the permissions
// the simulator checks, as patterns. It covers the permissions of the
// methods simulated, not every permission of each role.
// https://cloud.google.com/compute/docs/access/iam
// https://cloud.google.com/iam/docs/understanding-roles
var roles = map[string][]string{
	"roles/owner":          {"*"},
	"roles/editor":         {"compute.*", "iam.serviceAccounts.actAs", "storage.*", "cloudkms.*"},
	"roles/viewer":         {"*.get", "*.list", "compute.instances.getGuestAttributes"},
	"roles/compute.admin":  {"compute.*", "iam.serviceAccounts.actAs"},
	"roles/compute.viewer": {"compute.*.get", "compute.*.list"},
	"roles/compute.instanceAdmin.v1": {"compute.instances.*", "compute.disks.*", "compute.zones.*", "compute.projects.get",
		"compute.zoneOperations.*", "compute.images.useReadOnly", "compute.snapshots.useReadOnly", "compute.subnetworks.use"},
	"roles/compute.storageAdmin": {"compute.disks.*", "compute.snapshots.*", "compute.images.*", "compute.instantSnapshots.*",
		"compute.instantSnapshotGroups.*", "compute.resourcePolicies.*", "compute.zoneOperations.*", "compute.globalOperations.*",
		"compute.regionOperations.*", "compute.projects.get", "compute.zones.*"},
	"roles/compute.imageUser":                    {"compute.images.get", "compute.images.list", "compute.images.useReadOnly"},
	"roles/iam.serviceAccountUser":               {"iam.serviceAccounts.actAs"},
	"roles/iam.serviceAccountTokenCreator":       {"iam.serviceAccounts.getAccessToken"},
	"roles/cloudkms.cryptoKeyEncrypterDecrypter": {"cloudkms.cryptoKeyVersions.useToEncrypt", "cloudkms.cryptoKeyVersions.useToDecrypt"},
	"roles/storage.admin":                        {"storage.*"},
	"roles/storage.objectAdmin":                  {"storage.objects.*"},
	"roles/storage.objectCreator":                {"storage.objects.create"},
	"roles/storage.objectViewer":                 {"storage.objects.get", "storage.objects.list"},
}

// resourceRoles are the roles a snapshot's own IAM policy may grant.
// https://cloud.google.com/compute/docs/access/iam#compute.storageAdmin
var resourceRoles = map[string][]string{
	"roles/compute.storageAdmin": {"compute.snapshots.*"},
	"roles/compute.admin":        {"compute.snapshots.*"},
	"roles/owner":                {"compute.snapshots.*"},
	"roles/editor":               {"compute.snapshots.*"},
	"roles/viewer":               {"compute.snapshots.get", "compute.snapshots.list", "compute.snapshots.getIamPolicy"},
	"roles/compute.viewer":       {"compute.snapshots.get", "compute.snapshots.list"},
	// Reading a snapshot to make a disk from it.
	"roles/compute.snapshotUser": {"compute.snapshots.get", "compute.snapshots.useReadOnly"},
}

func compileBinding(b ScenarioBinding) (binding, error) {
	if !validMember(b.Member) {
		return binding{}, fmt.Errorf("member %q: write it as serviceAccount:EMAIL, user:EMAIL, group:EMAIL or allAuthenticatedUsers", b.Member)
	}
	out := binding{member: b.Member, roles: slices.Clone(b.Roles), patterns: slices.Clone(b.Permissions), custom: len(b.Permissions) > 0}
	for _, r := range b.Roles {
		perms, ok := roles[r]
		if !ok {
			return binding{}, fmt.Errorf("member %q: role %q is not simulated (known: %s)", b.Member, r, strings.Join(sortedKeys(roles), ", "))
		}
		out.patterns = append(out.patterns, perms...)
	}
	return out, nil
}

func validMember(m string) bool {
	if m == "allUsers" || m == "allAuthenticatedUsers" {
		return true
	}
	kind, id, ok := strings.Cut(m, ":")
	return ok && id != "" && (kind == "serviceAccount" || kind == "user" || kind == "group")
}

func permits(patterns []string, permission string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, permission); ok {
			return true
		}
	}
	return false
}

func memberMatches(member string, who *principal) bool {
	return member == who.member() || member == "allAuthenticatedUsers" || member == "allUsers"
}

// allowed reports whether who holds permission in project p, or through a
// resource's own IAM policy.
func (s *Server) allowed(who *principal, p *project, permission string, policy *computepb.Policy) bool {
	if who == nil {
		return false
	}
	if p != nil {
		for _, b := range p.iam {
			if memberMatches(b.member, who) && permits(b.patterns, permission) {
				return true
			}
		}
	}
	if policy != nil {
		for _, b := range policy.GetBindings() {
			perms := resourceRoles[b.GetRole()]
			if !permits(perms, permission) {
				continue
			}
			for _, m := range b.GetMembers() {
				if memberMatches(m, who) {
					return true
				}
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
