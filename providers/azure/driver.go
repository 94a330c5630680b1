package azure

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armlocks"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/acquire-forensics/acquire/providers/azure/sasblocks"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// Config says how to reach both sides. Credentials are azcore token credentials (the CLI gives
// azidentity.DefaultAzureCredential: environment variables, workload identity, managed identity, az).
type Config struct {
	SourceSubscription    string // the compromised subscription
	ForensicSubscription  string // where the evidence goes
	ForensicResourceGroup string // the resource group of the evidence; it must exist
	// ForensicDiskEncryptionSet, when set, is the resource ID of the forensic subscription's disk
	// encryption set that encrypts the evidence with the forensic side's key.
	ForensicDiskEncryptionSet string

	SourceCredential   azcore.TokenCredential
	ForensicCredential azcore.TokenCredential // the source's when nil

	// Cloud is the Azure cloud (public, sovereign, or the cloud range); azcore's public cloud when empty.
	Cloud cloud.Configuration
	// HTTPClient reaches ARM and the blob endpoints (the range's CA lives in its transport).
	HTTPClient *http.Client
	// PollFrequency is how often the SDK's pollers ask about a long-running operation when ARM gives
	// no Retry-After; the SDK's default (30s) when zero. The SDK refuses less than a second outside go test.
	PollFrequency time.Duration
	// PollTimeout bounds every wait for a long-running operation; default 10 minutes.
	PollTimeout time.Duration
	// MaxRetries is the SDK's retries of throttled and failed calls (it honours Retry-After); default 5.
	MaxRetries int
	// RetryDelay is the SDK's first backoff; default 1s.
	RetryDelay time.Duration
	// SASDuration is how long a read SAS for a digest or export is granted; default 1 hour.
	SASDuration time.Duration
	Blocks      sasblocks.Options
	Logger      *slog.Logger
}

// Driver is the Azure driver. It is safe for concurrent use.
type Driver struct {
	cfg Config
	log *slog.Logger
	arm map[driver.Side]*arm.ClientOptions
	cre map[driver.Side]azcore.TokenCredential

	mu      sync.Mutex
	clients map[string]*clients         // by side and subscription
	access  map[string]diskAccess       // by lower-case disk ID: how its data may be read, from Describe
	skipped map[string][]driver.Finding // by lower-case VM ID: what Describe left out, for Exposure
}

type clients struct {
	compute *armcompute.ClientFactory
	network *armnetwork.ClientFactory
	groups  *armresources.ResourceGroupsClient
	locks   *armlocks.ManagementLocksClient
	perms   *armauthorization.PermissionsClient
}

var (
	_ driver.Driver          = (*Driver)(nil)
	_ driver.BlockReader     = (*Driver)(nil)
	_ driver.Locker          = (*Driver)(nil)
	_ driver.ExposureChecker = (*Driver)(nil)
	_ driver.Preflighter     = (*Driver)(nil)
)

// New checks the configuration. It makes no call: bad credentials show at the first one (the
// identity step), with azidentity's own explanation.
func New(cfg Config) (*Driver, error) {
	switch {
	case cfg.SourceSubscription == "":
		return nil, errors.New("no source subscription: give --subscription")
	case cfg.ForensicSubscription == "":
		return nil, errors.New("no forensic subscription: give --forensic-subscription")
	case cfg.ForensicResourceGroup == "":
		return nil, errors.New("no forensic resource group: give --forensic-resource-group")
	case cfg.SourceCredential == nil:
		return nil, errors.New("no Azure credential for the source side")
	}
	if cfg.ForensicCredential == nil {
		cfg.ForensicCredential = cfg.SourceCredential
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 10 * time.Minute
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	if cfg.SASDuration <= 0 {
		cfg.SASDuration = time.Hour
	}
	if cfg.Cloud.Services == nil {
		cfg.Cloud = cloud.AzurePublic
	}
	d := &Driver{cfg: cfg, log: cfg.Logger, clients: map[string]*clients{}, access: map[string]diskAccess{}, skipped: map[string][]driver.Finding{},
		arm: map[driver.Side]*arm.ClientOptions{}, cre: map[driver.Side]azcore.TokenCredential{
			driver.Source: cfg.SourceCredential, driver.Forensic: cfg.ForensicCredential}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		d.arm[side] = &arm.ClientOptions{ClientOptions: d.clientOptions(side)}
	}
	return d, nil
}

// clientOptions are the SDK's pipeline settings of one side: its cloud, transport, retries (429 and
// 5xx, honouring Retry-After) and the policy that records each call's request IDs.
func (d *Driver) clientOptions(side driver.Side) azcore.ClientOptions {
	o := azcore.ClientOptions{
		Cloud:           d.cfg.Cloud,
		Retry:           policy.RetryOptions{MaxRetries: int32(d.cfg.MaxRetries), RetryDelay: d.cfg.RetryDelay, MaxRetryDelay: 30 * time.Second},
		PerCallPolicies: []policy.Policy{recordCalls{side: side}},
		Telemetry:       policy.TelemetryOptions{ApplicationID: "acquire"},
	}
	if d.cfg.HTTPClient != nil {
		o.Transport = d.cfg.HTTPClient
	}
	return o
}

func (d *Driver) side(side driver.Side, subscription string) (*clients, error) {
	if subscription == "" {
		subscription = d.subscription(side)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := string(side) + "/" + subscription
	if c, ok := d.clients[key]; ok {
		return c, nil
	}
	cred, opts := d.cre[side], d.arm[side]
	c := &clients{}
	var err error
	if c.compute, err = armcompute.NewClientFactory(subscription, cred, opts); err != nil {
		return nil, err
	}
	if c.network, err = armnetwork.NewClientFactory(subscription, cred, opts); err != nil {
		return nil, err
	}
	if c.groups, err = armresources.NewResourceGroupsClient(subscription, cred, opts); err != nil {
		return nil, err
	}
	if c.locks, err = armlocks.NewManagementLocksClient(subscription, cred, opts); err != nil {
		return nil, err
	}
	if c.perms, err = armauthorization.NewPermissionsClient(subscription, cred, opts); err != nil {
		return nil, err
	}
	d.clients[key] = c
	return c, nil
}

func (d *Driver) subscription(side driver.Side) string {
	if side == driver.Forensic {
		return d.cfg.ForensicSubscription
	}
	return d.cfg.SourceSubscription
}

// pollOptions are the pollers' settings. The SDK refuses a frequency under a second outside go test
// (it tells by the test.v flag, as here): a shorter one asked for is raised to a second.
func (d *Driver) pollOptions() *runtime.PollUntilDoneOptions {
	f := d.cfg.PollFrequency
	if f > 0 && f < time.Second && flag.Lookup("test.v") == nil {
		f = time.Second
	}
	return &runtime.PollUntilDoneOptions{Frequency: f}
}

// wait polls an operation to its end, bounded by PollTimeout.
func wait[T any](ctx context.Context, d *Driver, p *runtime.Poller[T]) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PollTimeout)
	defer cancel()
	return p.PollUntilDone(ctx, d.pollOptions())
}

// Cloud names the provider.
func (d *Driver) Cloud() string { return "azure" }

// Capabilities of Azure: snapshots land straight in the forensic subscription; no evidence in
// another region (see the package comment). A VM's disks at one point in time take a crash-consistent
// restore point written into the source subscription (crashSnapshots).
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{SnapshotSide: driver.Forensic, Crash: driver.CrashWritesSource, CrossLocation: false}
}

func (d *Driver) String() string {
	return fmt.Sprintf("azure (source %s, forensic %s/%s)", d.cfg.SourceSubscription, d.cfg.ForensicSubscription, d.cfg.ForensicResourceGroup)
}
