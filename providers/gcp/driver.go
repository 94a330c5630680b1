package gcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"google.golang.org/api/option"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Config says how to reach both projects. Credentials come from Application Default Credentials
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default login, the metadata server) unless a
// key file is given; either may act through an impersonated service account.
type Config struct {
	Project         string // the compromised workload's project
	Zone            string // the default zone of instance and disk names
	ForensicProject string // the isolated project the evidence goes to

	// CredentialsFile is a service-account key or ADC file for both sides; ADC when empty.
	CredentialsFile string
	// ForensicCredentialsFile, when set, is the forensic side's own; otherwise it shares CredentialsFile.
	ForensicCredentialsFile string
	// ImpersonateServiceAccount is an account both sides act as, through generateAccessToken.
	ImpersonateServiceAccount string
	// Staged is for a forensic principal that may not act on the source disks: the source side
	// snapshots in the source project and grants the forensic principal read-only use of that
	// snapshot, and the forensic side makes its own copy (a disk from it, then that disk's snapshot).
	Staged bool
	// Endpoint is the base URL of Compute Engine and IAM Credentials (the cloud range).
	Endpoint string

	// PollInterval is the first wait between polls of an operation; OperationTimeout bounds each wait.
	PollInterval     time.Duration
	OperationTimeout time.Duration
	// RetryMaxAttempts bounds the client's retries of throttled and unavailable calls (default 8);
	// RetryMaxBackoff bounds the pause between them (default 30s).
	RetryMaxAttempts int
	RetryMaxBackoff  time.Duration
	// Worker says how digest workers are made.
	Worker WorkerConfig
	Logger *slog.Logger
}

// Driver is the Google Cloud driver. It is safe for concurrent use.
type Driver struct {
	cfg   Config
	log   *slog.Logger
	sides map[driver.Side]*clients
	// emails are the principals' service-account emails, known from the credentials.
	emails map[driver.Side]string
	// users are the sides whose credentials are a user's, whose email the cloud tells.
	users map[driver.Side]bool
	// images is the forensic side's Cloud Storage, where workers write raw images (--image-bucket).
	images *imageStore

	mu sync.Mutex
	// skipped is what Describe left out of each instance (its local SSDs), by instance name, for
	// Exposure to tell.
	skipped map[string][]driver.Finding
}

var (
	_ driver.Driver          = (*Driver)(nil)
	_ driver.ExposureChecker = (*Driver)(nil)
	_ driver.Preflighter     = (*Driver)(nil)
	_ driver.Digester        = (*Driver)(nil)
	_ driver.Transferer      = (*Driver)(nil)
	_ driver.Featurer        = (*Driver)(nil)
)

// projectRule is a project ID: 6 to 30 of lowercase letters, digits and hyphens, starting with a letter
// (https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin).
var projectRule = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

// zoneRule is a zone name: us-central1-a, europe-west4-b.
var zoneRule = regexp.MustCompile(`^[a-z]+(-[a-z]+)*[0-9]+-[a-z]$`)

// ValidProject reports whether s is a project ID.
func ValidProject(s string) bool { return projectRule.MatchString(s) }

// ValidZone reports whether s is a zone name.
func ValidZone(s string) bool { return zoneRule.MatchString(s) }

// New builds both sides' clients. It makes no call but reading the credentials: a project the
// credentials cannot reach shows at the identity step.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	switch {
	case !ValidProject(cfg.Project):
		return nil, fmt.Errorf("gcp: project %q is not a project ID (6 to 30 of a-z, 0-9 and -)", cfg.Project)
	case !ValidProject(cfg.ForensicProject):
		return nil, fmt.Errorf("gcp: forensic project %q is not a project ID (6 to 30 of a-z, 0-9 and -)", cfg.ForensicProject)
	case cfg.Zone != "" && !ValidZone(cfg.Zone):
		return nil, fmt.Errorf("gcp: zone %q is not a zone name (like us-central1-a)", cfg.Zone)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.OperationTimeout <= 0 {
		cfg.OperationTimeout = 10 * time.Minute
	}
	if cfg.RetryMaxAttempts <= 0 {
		cfg.RetryMaxAttempts = 8
	}
	if cfg.RetryMaxBackoff <= 0 {
		cfg.RetryMaxBackoff = 30 * time.Second
	}
	d := &Driver{cfg: cfg, log: cfg.Logger, sides: map[driver.Side]*clients{}, emails: map[driver.Side]string{}, users: map[driver.Side]bool{},
		skipped: map[string][]driver.Finding{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		file := cfg.CredentialsFile
		if side == driver.Forensic && cfg.ForensicCredentialsFile != "" {
			file = cfg.ForensicCredentialsFile
		}
		creds, email, err := loadCredentials(file, cfg.ImpersonateServiceAccount, cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("gcp: the %s side's credentials: %w", side, err)
		}
		opts := []option.ClientOption{option.WithAuthCredentials(creds)}
		if cfg.Endpoint != "" {
			opts = append(opts, option.WithEndpoint(cfg.Endpoint))
		}
		c, err := newClients(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("gcp: the %s side's clients: %w", side, err)
		}
		d.sides[side] = c
		if side == driver.Forensic && cfg.Worker.ImageBucket != "" {
			if d.images, err = newImageStore(ctx, cfg.Endpoint, cfg.Worker.ImageBucket, option.WithAuthCredentials(creds)); err != nil {
				return nil, fmt.Errorf("gcp: the forensic side's Cloud Storage client: %w", err)
			}
		}
		d.emails[side] = email
		d.users[side] = email == "" && isUser(creds)
	}
	return d, nil
}

// Close releases the clients.
func (d *Driver) Close() error {
	var errs []error
	for _, c := range d.sides {
		errs = append(errs, c.close())
	}
	if d.images != nil {
		errs = append(errs, d.images.close())
	}
	return errors.Join(errs...)
}

// Cloud names the provider.
func (d *Driver) Cloud() string { return "gcp" }

// Project is the source project; ForensicProject the forensic one.
func (d *Driver) Project() string         { return d.cfg.Project }
func (d *Driver) ForensicProject() string { return d.cfg.ForensicProject }

// Zone is the default zone of the target's names.
func (d *Driver) Zone() string { return d.cfg.Zone }

// Capabilities of Google Cloud: snapshots go straight into the forensic project; an instance's disks
// can be taken at one moment through a consistency group, which writes into the source project; they
// are global resources stored where storageLocations says, so evidence may be placed in any location.
// https://cloud.google.com/compute/docs/disks/snapshots#selecting_a_storage_location
//
// Staged, the snapshots are taken in the source project and copied by the Transferer.
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{SnapshotSide: d.snapshotSide(), Crash: driver.CrashWritesSource, CrossLocation: true}
}

// snapshotSide is where CreateSnapshots puts its snapshots.
func (d *Driver) snapshotSide() driver.Side {
	if d.cfg.Staged {
		return driver.Source
	}
	return driver.Forensic
}

// Features are the optional capabilities: a Transferer only when staged, since otherwise the
// snapshots are made where they stay.
func (d *Driver) Features() driver.Features {
	f := driver.Features{Digest: d, Exposure: d, Preflight: d}
	if d.cfg.Staged {
		f.Transfer = d
	}
	return f
}

func (d *Driver) project(side driver.Side) string {
	if side == driver.Forensic {
		return d.cfg.ForensicProject
	}
	return d.cfg.Project
}
