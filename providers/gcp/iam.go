package gcp

import (
	"fmt"
	"strings"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// permission is an IAM permission the driver needs in a project, and why.
type permission struct {
	Name string
	Why  string
}

// need says when a set of permissions is needed: always, or for an option of the acquisition.
type need string

const (
	always     need = "always"
	crashNeed  need = "crash-consistent" // --consistency crash-consistent
	digestNeed need = "digest"           // the digest is computed (not --digest defer)
	kmsNeed    need = "forensic-key"     // --forensic-kms-key
	stagedNeed need = "staged"           // --staged: source snapshots, copied by the forensic side
	imageNeed  need = "image-bucket"     // --image-bucket
)

// needs is the order in which each side's permission sets are listed.
var needs = []need{always, stagedNeed, crashNeed, digestNeed, imageNeed, kmsNeed}

// permissions are what each side's principal needs in its project, call by call, by what they are
// needed for: the one table `acquire iam gcp` prints and the preflight checks
// (https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/insert lists the pair a
// snapshot into another project needs: compute.disks.createSnapshot on the disk,
// compute.snapshots.create where it lands).
var permissions = map[driver.Side]map[need][]permission{
	driver.Source: {
		always: {
			{"compute.projects.get", "identity: read the source project and its number, for the record"},
			{"compute.instances.get", "describe: capture the instance's configuration and find its disks"},
			{"compute.disks.get", "describe: the disks' size, type and encryption"},
			{"compute.disks.createSnapshot", "snapshot the disks straight into the forensic project"},
			{"compute.snapshots.list", "exposure check: find existing snapshots of the target disks"},
			{"compute.snapshots.getIamPolicy", "exposure check: who else may use those snapshots"},
			{"compute.images.list", "exposure check: find images made from the target disks"},
			{"compute.images.getIamPolicy", "exposure check: whether those images are public or shared"},
		},
		stagedNeed: {
			{"compute.snapshots.create", "--staged: snapshot the disks in the source project"},
			{"compute.snapshots.setLabels", "--staged: label the source snapshots with the case and the step's token"},
			{"compute.snapshots.get", "--staged: read a source snapshot an earlier attempt made when its answer was lost"},
			{"compute.snapshots.setIamPolicy", "--staged: grant the forensic principal read-only use of each source snapshot, and remove the grant after"},
			{"compute.snapshots.delete", "--staged: delete the source snapshots once their copies are evidence (unless --keep-source-snapshots), or one that ended in error"},
			{"compute.globalOperations.get", "--staged: follow the source snapshots' operations"},
			{"compute.globalOperations.list", "--staged: find why a source snapshot that never appeared failed"},
		},
		crashNeed: {
			{"compute.resourcePolicies.create", "--consistency crash-consistent: the consistency group policy"},
			{"compute.resourcePolicies.delete", "--consistency crash-consistent: remove the policy after"},
			{"compute.resourcePolicies.use", "--consistency crash-consistent: attach the policy to the disks"},
			{"compute.disks.addResourcePolicies", "--consistency crash-consistent: put the disks in the consistency group"},
			{"compute.disks.removeResourcePolicies", "--consistency crash-consistent: take them out after"},
			{"compute.instantSnapshotGroups.create", "--consistency crash-consistent: take every disk's instant snapshot at one moment"},
			{"compute.instantSnapshotGroups.delete", "--consistency crash-consistent: remove the group after"},
			{"compute.instantSnapshots.create", "--consistency crash-consistent: the group's instant snapshots"},
			{"compute.instantSnapshots.list", "--consistency crash-consistent: find the group's instant snapshots"},
			{"compute.instantSnapshots.useReadOnly", "--consistency crash-consistent: snapshot them into the forensic project"},
			{"compute.instantSnapshots.delete", "--consistency crash-consistent: remove them after"},
			{"compute.regionOperations.get", "--consistency crash-consistent: follow the policy's operations"},
			{"compute.zoneOperations.get", "--consistency crash-consistent: follow the disks' and the group's operations"},
		},
	},
	driver.Forensic: {
		always: {
			{"compute.projects.get", "identity: read the forensic project and its number, for the record"},
			{"compute.snapshots.create", "make the evidence snapshots in the forensic project"},
			{"compute.snapshots.setLabels", "label the snapshots with the case and the step's token when they are made"},
			{"compute.snapshots.list", "preflight; follow snapshots to READY; find an interrupted step's snapshots by label"},
			{"compute.snapshots.get", "read a snapshot an earlier attempt made when its answer was lost"},
			{"compute.snapshots.delete", "discard a snapshot that ended in error"},
			{"compute.globalOperations.get", "follow the snapshots' operations"},
			{"compute.globalOperations.list", "find why a snapshot that never appeared failed"},
		},
		stagedNeed: {
			{"compute.disks.create", "--staged: a disk from each source snapshot, which the evidence snapshot is taken from"},
			{"compute.disks.setLabels", "--staged: label that disk with the case and the step's token when it is made"},
			{"compute.disks.get", "--staged: find an interrupted transfer's disk"},
			{"compute.disks.createSnapshot", "--staged: take the evidence snapshot of that disk"},
			{"compute.disks.delete", "--staged: delete that disk once the evidence snapshot is complete"},
			{"compute.zoneOperations.get", "--staged: follow the disk's operations"},
		},
		digestNeed: {
			{"compute.snapshots.useReadOnly", "digest: make a disk from the evidence snapshot"},
			{"compute.disks.create", "digest: the disk from the evidence snapshot, and the worker's boot disk"},
			{"compute.disks.setLabels", "digest: label the disk with the case and the step's token when it is made"},
			{"compute.disks.list", "digest: find an interrupted step's disk by label"},
			{"compute.disks.useReadOnly", "digest: attach the evidence disk to the worker read-only"},
			{"compute.disks.delete", "digest: delete the evidence disk once digested"},
			{"compute.instances.create", "digest: start the worker VM"},
			{"compute.instances.setMetadata", "digest: give the worker its startup script"},
			{"compute.instances.setLabels", "digest: label the worker with the case and the step's token"},
			{"compute.instances.list", "digest: find an interrupted step's worker by label"},
			{"compute.instances.get", "digest: follow the worker"},
			{"compute.instances.getGuestAttributes", "digest: read the digests the worker publishes"},
			{"compute.instances.delete", "digest: delete the worker (and its boot disk) when done"},
			{"compute.subnetworks.use", "digest: the worker's network interface (no external IP)"},
			{"compute.zoneOperations.get", "digest: follow the disk's and the worker's operations"},
		},
		imageNeed: {
			{"storage.objects.create", "--image-bucket: start the upload session of each raw image, which the worker writes through"},
			{"storage.objects.get", "--image-bucket: compare the written image's size and MD5 with what the worker read"},
		},
		kmsNeed: {
			{"cloudkms.cryptoKeys.getIamPolicy", "--forensic-kms-key: preflight: check that the project's Compute Engine service agent may use the key (a key in another project needs it there)"},
			{"cloudkms.keyRings.getIamPolicy", "--forensic-kms-key: preflight: the same, where the agent's role is granted on the key ring"},
			{"resourcemanager.projects.getIamPolicy", "--forensic-kms-key: preflight: the same, where the agent's role is granted on the key's project"},
		},
	},
}

// sidePermissions are a side's permissions for the given needs, in the table's order, each once
// (with the reason of its first need).
func sidePermissions(side driver.Side, want func(need) bool) []permission {
	var out []permission
	seen := map[string]bool{}
	for _, n := range needs {
		if !want(n) {
			continue
		}
		for _, p := range permissions[side][n] {
			if !seen[p.Name] {
				seen[p.Name] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func allNeeds(need) bool { return true }

// Permissions lists the permissions a side's principal needs.
func Permissions(side driver.Side) []string {
	var out []string
	for _, p := range sidePermissions(side, allNeeds) {
		out = append(out, p.Name)
	}
	return out
}

// Explain lists each permission of a side with the reason it is needed.
func Explain(side driver.Side) [][2]string {
	var out [][2]string
	for _, p := range sidePermissions(side, allNeeds) {
		out = append(out, [2]string{p.Name, p.Why})
	}
	if side == driver.Forensic {
		out = append(out, [2]string{snapshotUserRole,
			"with --staged: granted to the forensic principal on each source snapshot by the source side, for the copy, and removed after"})
		out = append(out, [2]string{"roles/cloudkms.cryptoKeyEncrypterDecrypter",
			"held on the forensic key by the project's Compute Engine service agent (service-PROJECT_NUMBER@compute-system.iam.gserviceaccount.com), with --forensic-kms-key"})
	}
	return out
}

// RoleID is the custom role's ID for a side.
func RoleID(side driver.Side) string {
	return "acquireForensic" + strings.ToUpper(string(side[:1])) + string(side[1:])
}

// Role is a side's custom role in the YAML that `gcloud iam roles create ROLE --project P --file` reads
// (https://cloud.google.com/iam/docs/creating-custom-roles#creating), each permission with its reason
// as a comment.
func Role(side driver.Side) string {
	var b strings.Builder
	fmt.Fprintf(&b, "title: acquire %s side\n", side)
	fmt.Fprintf(&b, "description: What acquire needs in the %s project to take forensic snapshots, least privilege.\n", side)
	b.WriteString("stage: GA\nincludedPermissions:\n")
	for _, p := range sidePermissions(side, allNeeds) {
		fmt.Fprintf(&b, "- %s # %s\n", p.Name, p.Why)
	}
	return b.String()
}

// IsPermission reports whether an entry of Explain is a permission of the side's role (rather than a
// binding someone else holds).
func IsPermission(name string) bool { return !strings.HasPrefix(name, "roles/") }
