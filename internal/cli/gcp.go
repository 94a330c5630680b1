package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/providers/driver"
	gcpdriver "github.com/acquire-forensics/acquire/providers/gcp"
)

// gcpOptions is the flag group of `acquire gcp`.
type gcpOptions struct {
	acquireOptions
	project  string
	zone     string
	instance []string
	disk     []string

	forensicProject     string
	forensicKey         string
	forensicLocation    string
	credentials         string
	forensicCredentials string
	impersonate         string
	endpoint            string
	workerImage         string
	workerZone          string
	workerSubnet        string
	imageBucket         string
	staged              bool
	keepSource          bool
}

func newGCPCmd(a *app) *cobra.Command {
	var o gcpOptions
	cmd := &cobra.Command{
		Use:   "gcp",
		Short: "Acquire Compute Engine instances or persistent disks into an isolated forensic project",
		Long: `Acquire Compute Engine instances (every attached persistent disk) or disks into a forensic project:
capture the configuration (the instance with its service accounts and scopes, network interfaces, tags and
metadata keys, never their values), check for snapshots and images of the disks that others can use,
snapshot each disk straight into the forensic project (the evidence never lives in the compromised one),
labelled with the case and under the forensic key, digest their content, and seal the case. Every step is a signed custody record.

Running the same command again for the same case continues where it stopped; other arguments for a case
that holds an acquisition are refused, unless --new-acquisition. Ctrl-C stops and says what is left where.

Credentials come from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth
application-default login, the metadata server) or --credentials (a service-account key or ADC file);
--impersonate-service-account acts as another account through IAM Credentials.
` + "`acquire iam gcp`" + ` prints the custom roles both projects need.

The content digests (the image SHA-256 and the block-list SHA-256, as on every cloud) are computed by a
short-lived worker VM in the forensic project (no external IP, no service account, shielded) that reads a
disk made from the evidence snapshot, attached read-only; the worker and its disk are deleted after, also on
failure and cancel. --digest defer skips it, recorded. Compute Engine has no snapshot lock: --lock is refused.

For a forensic principal that may not act on the source disks, --staged lets the source-side principal
(--credentials) snapshot each disk in the source project and grant the forensic principal
(--forensic-credentials) read-only use of that snapshot only (roles/compute.snapshotUser on it); the forensic
side makes its own copy, a disk from the snapshot and then that disk's snapshot, the evidence. The grant and
the disk are removed once the evidence is complete, and on failure or cancel; the source snapshot is deleted
once its copy is recorded, unless --keep-source-snapshots (one whose copy failed is kept and listed).

By default each disk is snapshotted on its own. --consistency crash-consistent takes an instance's disks at one
moment through a consistency group: it writes a resource policy and an instant snapshot group into the
compromised project, recorded and removed once the snapshots are complete.`,
		Example: `  acquire gcp --case IR-42/ --project acme-web-prod --zone us-central1-a --instance web-1 \
    --forensic-project acme-forensics \
    --forensic-kms-key projects/acme-forensics/locations/us/keyRings/evidence/cryptoKeys/snapshots \
    --credentials responder.json --key custody.key --ticket IR-42`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), a) },
	}
	f := cmd.Flags()
	o.addFlags(cmd, "refused on Google Cloud: Compute Engine snapshots have no lock")
	f.StringVar(&o.project, "project", "", "the compromised workload's project ID (required)")
	f.StringVar(&o.zone, "zone", "", "the zone of the instances and disks named without one (like us-central1-a)")
	f.StringArrayVar(&o.instance, "instance", nil, "an instance name (or zones/ZONE/instances/NAME): every attached disk (repeatable)")
	f.StringArrayVar(&o.disk, "disk", nil, "a persistent disk name (or zones/ZONE/disks/NAME) (repeatable)")
	f.StringVar(&o.forensicProject, "forensic-project", "", "the isolated forensic project the snapshots go to (required)")
	f.StringVar(&o.forensicKey, "forensic-kms-key", "", "Cloud KMS key of the forensic project for the snapshots: projects/P/locations/L/keyRings/R/cryptoKeys/K (default: Google-managed encryption)")
	f.StringVar(&o.forensicLocation, "forensic-location", "", "storage location of the snapshots: a region or multi-region such as us or europe-west4 (default: the multi-region nearest the disks)")
	f.StringVar(&o.credentials, "credentials", "", "a service-account key or ADC file for both projects (default: Application Default Credentials)")
	f.StringVar(&o.forensicCredentials, "forensic-credentials", "", "a credentials file for the forensic project, when it is not the --credentials one")
	f.StringVar(&o.impersonate, "impersonate-service-account", "", "act as this service account (NAME@PROJECT.iam.gserviceaccount.com) through generateAccessToken")
	f.StringVar(&o.endpoint, "endpoint", "", "base URL of Compute Engine and IAM Credentials (the cloud range)")
	f.StringVar(&o.workerImage, "worker-image", gcpdriver.DefaultWorkerImage, "boot image of the digest worker VMs")
	f.StringVar(&o.workerZone, "worker-zone", "", "zone of the digest workers (default: each disk's zone)")
	f.BoolVar(&o.staged, "staged", false, "snapshot in the source project as the --credentials principal and copy into the forensic project as the --forensic-credentials one (for a forensic principal that may not act on the source disks)")
	f.BoolVar(&o.keepSource, "keep-source-snapshots", false, "with --staged, keep the source snapshots once their copies are recorded (default: delete them)")
	f.StringVar(&o.imageBucket, "image-bucket", "", "a Cloud Storage bucket of the forensic project the digest workers write each raw image to (acquire/CASE/SNAPSHOT.raw, never replacing an object)")
	f.StringVar(&o.workerSubnet, "worker-subnetwork", "", "subnetwork of the digest workers, regions/R/subnetworks/S (default: the default network)")
	return cmd
}

func (o *gcpOptions) check() error {
	if err := o.acquireOptions.check(); err != nil {
		return err
	}
	switch {
	case len(o.instance) == 0 && len(o.disk) == 0:
		return errors.New("nothing to acquire: give --instance or --disk")
	case o.project == "":
		return errors.New("--project is required: the compromised workload's project")
	case o.forensicProject == "":
		return errors.New("--forensic-project is required: the isolated project the evidence goes to")
	case !gcpdriver.ValidProject(o.project):
		return fmt.Errorf("--project %q is not a project ID (6 to 30 of a-z, 0-9 and -, starting with a letter)", o.project)
	case !gcpdriver.ValidProject(o.forensicProject):
		return fmt.Errorf("--forensic-project %q is not a project ID (6 to 30 of a-z, 0-9 and -, starting with a letter)", o.forensicProject)
	case o.forensicProject == o.project:
		return fmt.Errorf("--forensic-project %s is the compromised project itself: the evidence must go to an isolated project", o.project)
	case o.zone != "" && !gcpdriver.ValidZone(o.zone):
		return fmt.Errorf("--zone %q is not a zone name (like us-central1-a)", o.zone)
	case o.imageBucket != "" && o.digest == "defer":
		return errors.New("--image-bucket is written by the digest workers, which --digest defer does not start: drop one of them")
	case o.keepSource && !o.staged:
		return errors.New("--keep-source-snapshots is for --staged: without it the snapshots go straight into the forensic project, and there are no source snapshots")
	case o.staged && o.impersonate != "":
		return errors.New("--staged with --impersonate-service-account would take and copy the snapshots as one account: give the two principals their own --credentials and --forensic-credentials")
	case o.staged && o.forensicCredentials == "":
		return errors.New("--staged needs --forensic-credentials: the forensic principal that copies the source snapshots, other than the --credentials one that takes them")
	case o.forensicKey != "" && !gcpdriver.ValidKMSKey(o.forensicKey):
		return fmt.Errorf("--forensic-kms-key %q is not a Cloud KMS key name (projects/P/locations/L/keyRings/R/cryptoKeys/K)", o.forensicKey)
	}
	return nil
}

func (o *gcpOptions) run(ctx context.Context, a *app) error {
	if err := o.check(); err != nil {
		return usageErrorf(err)
	}
	logger, closeLog, err := o.logger(a)
	if err != nil {
		return err
	}
	defer closeLog()
	d, err := gcpdriver.New(ctx, gcpdriver.Config{
		Project: o.project, Zone: o.zone, ForensicProject: o.forensicProject,
		CredentialsFile: o.credentials, ForensicCredentialsFile: o.forensicCredentials,
		ImpersonateServiceAccount: o.impersonate, Endpoint: o.endpoint, Logger: logger, Staged: o.staged,
		Worker: gcpdriver.WorkerConfig{Image: o.workerImage, Zone: o.workerZone, Subnetwork: o.workerSubnet, ImageBucket: o.imageBucket},
	})
	if err != nil {
		return usageErrorf(err)
	}
	defer d.Close()
	opts := o.engineOptions(driver.Target{Location: o.zone, Workloads: o.instance, Volumes: o.disk},
		driver.Destination{Account: o.forensicProject, Location: o.forensicLocation, Key: o.forensicKey})
	opts.Logger = logger
	opts.DeleteSourceSnapshots = o.staged && !o.keepSource
	return a.acquire(ctx, &o.acquireOptions, d, opts, gcpdriver.Explain)
}

// gcpRole is one side's custom role and what to bind it to, for `acquire iam gcp --output json`.
type gcpRole struct {
	Side        driver.Side   `json:"side"`
	Project     string        `json:"project"`
	RoleID      string        `json:"roleId"`
	Title       string        `json:"title"`
	Permissions []gcpIAMEntry `json:"includedPermissions"`
	Commands    []string      `json:"commands"`
}

type gcpIAMEntry struct {
	Permission string `json:"permission"`
	Reason     string `json:"reason"`
}

// addGCPIAM adds `acquire iam gcp` to the iam command.
func addGCPIAM(a *app, iam *cobra.Command) *cobra.Command {
	var project, forensicProject, member string
	cmd := &cobra.Command{
		Use:   "gcp",
		Short: "Custom roles for the source and forensic projects of `acquire gcp`",
		Long: `Print, for each project, the custom role ` + "`acquire gcp`" + ` needs, least privilege, in the YAML that
` + "`gcloud iam roles create ROLE --project PROJECT --file FILE`" + ` reads, each permission with its reason, and the
commands that create and bind it. With --forensic-kms-key, the forensic project's Compute Engine service agent
also needs roles/cloudkms.cryptoKeyEncrypterDecrypter on that key.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var roles []gcpRole
			for _, side := range []driver.Side{driver.Source, driver.Forensic} {
				p := project
				if side == driver.Forensic {
					p = forensicProject
				}
				id := gcpdriver.RoleID(side)
				r := gcpRole{Side: side, Project: p, RoleID: id, Title: "acquire " + string(side) + " side", Commands: []string{
					fmt.Sprintf("gcloud iam roles create %s --project %s --file %s-role.yaml", id, p, side),
					fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member %s --role projects/%s/roles/%s", p, member, p, id),
				}}
				for _, e := range gcpdriver.Explain(side) {
					if gcpdriver.IsPermission(e[0]) {
						r.Permissions = append(r.Permissions, gcpIAMEntry{Permission: e[0], Reason: e[1]})
					}
				}
				if side == driver.Forensic {
					r.Commands = append(r.Commands, fmt.Sprintf("gcloud kms keys add-iam-policy-binding KEY --location LOCATION --keyring RING --project %s "+
						"--member serviceAccount:service-PROJECT_NUMBER@compute-system.iam.gserviceaccount.com --role roles/cloudkms.cryptoKeyEncrypterDecrypter", p))
				}
				roles = append(roles, r)
			}
			if a.json() {
				return a.emit(map[string]any{"roles": roles})
			}
			for _, r := range roles {
				a.printf("# %s-role.yaml: the %s project's role (%s)\n%s", r.Side, r.Side, r.Project, gcpdriver.Role(r.Side))
				for _, c := range r.Commands {
					a.printf("# %s\n", c)
				}
				a.printf("\n")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&project, "project", "SOURCE_PROJECT", "the compromised workload's project, for the commands")
	f.StringVar(&forensicProject, "forensic-project", "FORENSIC_PROJECT", "the forensic project, for the commands")
	f.StringVar(&member, "member", "serviceAccount:RESPONDER@FORENSIC_PROJECT.iam.gserviceaccount.com", "the principal the roles are granted to")
	iam.AddCommand(cmd)
	return iam
}
