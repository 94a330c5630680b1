package gcp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/cloudkms/v1"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// kmsKeyRule is a Cloud KMS key's resource name
// (https://cloud.google.com/kms/docs/resource-hierarchy#keys).
var kmsKeyRule = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// ValidKMSKey reports whether s is a Cloud KMS key name.
func ValidKMSKey(s string) bool { return kmsKeyRule.MatchString(s) }

// encrypterDecrypter is the role the project's Compute Engine service agent needs on a CMEK
// (https://cloud.google.com/compute/docs/disks/customer-managed-encryption#before_you_begin).
const encrypterDecrypter = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

// Preflight checks, before any snapshot exists, what the projects would refuse later: that the
// forensic project is the destination and reachable, that the key is a Cloud KMS key name the
// forensic project's Compute Engine service agent may use, and that each side's credentials hold
// every permission the options chosen need (consistency, digest). Every problem found is named at once.
func (d *Driver) Preflight(ctx context.Context, p driver.Preflight) error {
	if a := p.Destination.Account; a != "" && a != d.cfg.ForensicProject {
		return invalidf("the destination project %s is not the driver's forensic project %s", a, d.cfg.ForensicProject)
	}
	if k := p.Destination.Key; k != "" && !ValidKMSKey(k) {
		return invalidf("forensic key %q is not a Cloud KMS key name (projects/P/locations/L/keyRings/R/cryptoKeys/K)", k)
	}
	if p.Lock != nil {
		return invalidf("gcp has no snapshot lock")
	}
	var problems preflightProblems
	if err := d.checkPermissions(ctx, p); err != nil {
		problems = append(problems, err)
	}
	if k := p.Destination.Key; k != "" {
		if err := d.checkKeyAgent(ctx, k); err != nil {
			problems = append(problems, err)
		}
	}
	if d.cfg.Staged {
		if _, err := d.forensicMember(ctx); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return problems
	}
	c := d.sides[driver.Forensic]
	it := c.snapshots.List(ctx, &computepb.ListSnapshotsRequest{Project: d.cfg.ForensicProject, MaxResults: proto.Uint32(1)}, d.retry())
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return err
	}
	return nil
}

// preflightProblems are all a preflight found, in one message.
type preflightProblems []error

func (e preflightProblems) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e preflightProblems) Unwrap() []error { return e }

// keyAgentError is a forensic key the forensic project's Compute Engine service agent may not use:
// every snapshot under it would fail.
type keyAgentError struct {
	agent, key string
	unread     []string // the broader policies that could not be read, and why
}

func (e *keyAgentError) Error() string {
	parts := strings.Split(e.key, "/") // projects/P/locations/L/keyRings/R/cryptoKeys/K
	msg := fmt.Sprintf("the forensic project's Compute Engine service agent %s does not hold %s on the forensic key %s "+
		"(nor, unconditionally, on its key ring or project), so Compute Engine could not encrypt the snapshots with it", e.agent, encrypterDecrypter, e.key)
	if len(e.unread) > 0 {
		msg += " (not read: " + strings.Join(e.unread, "; ") + ")"
	}
	return msg + fmt.Sprintf(": grant it with `gcloud kms keys add-iam-policy-binding %s --keyring %s --location %s --project %s --member %s --role %s` and run again",
		parts[7], parts[5], parts[3], parts[1], e.agent, encrypterDecrypter)
}

// checkKeyAgent checks that the forensic project's Compute Engine service agent
// (service-PROJECT_NUMBER@compute-system.iam.gserviceaccount.com) holds the encrypter/decrypter role
// on the forensic key: on the key itself (cryptoKeys.getIamPolicy), or on what the key inherits
// from, its key ring and its project (https://cloud.google.com/kms/docs/resource-hierarchy#iam).
// A conditional binding is not counted: whether it applies is not known here. Grants above the
// project (folder, organisation) are not seen: the error says how to grant the role on the key.
func (d *Driver) checkKeyAgent(ctx context.Context, key string) error {
	c := d.sides[driver.Forensic]
	proj, err := c.projects.Get(ctx, &computepb.GetProjectRequest{Project: d.cfg.ForensicProject}, d.retry())
	if err != nil {
		return fmt.Errorf("reading the forensic project's number, which names its Compute Engine service agent: %w", err)
	}
	agent := fmt.Sprintf("serviceAccount:service-%d@compute-system.iam.gserviceaccount.com", proj.GetId())
	// https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/getIamPolicy
	pol, err := restCall(ctx, d, func(ctx context.Context) (*cloudkms.Policy, error) {
		return c.kms.Projects.Locations.KeyRings.CryptoKeys.GetIamPolicy(key).Context(ctx).Do()
	})
	if err != nil {
		return fmt.Errorf("reading the IAM policy of the forensic key %s, to check that %s may use it: %w", key, agent, err)
	}
	for _, b := range pol.Bindings {
		if b.Role == encrypterDecrypter && b.Condition == nil && slices.Contains(b.Members, agent) {
			return nil
		}
	}
	ke := &keyAgentError{agent: agent, key: key}
	ring := key[:strings.Index(key, "/cryptoKeys/")]
	// https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings/getIamPolicy
	rp, err := restCall(ctx, d, func(ctx context.Context) (*cloudkms.Policy, error) {
		return c.kms.Projects.Locations.KeyRings.GetIamPolicy(ring).Context(ctx).Do()
	})
	if err != nil {
		ke.unread = append(ke.unread, fmt.Sprintf("the key ring's policy: %v", err))
	} else {
		for _, b := range rp.Bindings {
			if b.Role == encrypterDecrypter && b.Condition == nil && slices.Contains(b.Members, agent) {
				return nil
			}
		}
	}
	keyProject := strings.Split(key, "/")[1]
	// https://cloud.google.com/resource-manager/reference/rest/v1/projects/getIamPolicy
	pp, err := restCall(ctx, d, func(ctx context.Context) (*crm.Policy, error) {
		return c.crm.Projects.GetIamPolicy(keyProject, &crm.GetIamPolicyRequest{}).Context(ctx).Do()
	})
	if err != nil {
		ke.unread = append(ke.unread, fmt.Sprintf("project %s's policy: %v", keyProject, err))
	} else {
		for _, b := range pp.Bindings {
			if b.Role == encrypterDecrypter && b.Condition == nil && slices.Contains(b.Members, agent) {
				return nil
			}
		}
	}
	return ke
}
