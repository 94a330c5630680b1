package gcp

import (
	"context"
	"errors"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/cloudkms/v1"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	oauth2 "google.golang.org/api/oauth2/v2"
	"google.golang.org/api/option"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// clients are one side's Compute Engine REST clients, and the Cloud Resource Manager, Cloud KMS and
// OAuth 2.0 clients of the preflight and the identity.
type clients struct {
	projects   *compute.ProjectsClient
	instances  *compute.InstancesClient
	disks      *compute.DisksClient
	snapshots  *compute.SnapshotsClient
	images     *compute.ImagesClient
	globalOps  *compute.GlobalOperationsClient
	zoneOps    *compute.ZoneOperationsClient
	policies   *compute.ResourcePoliciesClient
	groups     *compute.InstantSnapshotGroupsClient
	instants   *compute.InstantSnapshotsClient
	crm        *crm.Service
	kms        *cloudkms.Service
	oauth2     *oauth2.Service
	closeFuncs []func() error
}

func newClients(ctx context.Context, opts []option.ClientOption) (*clients, error) {
	c := &clients{}
	var errs []error
	add := func(close func() error, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		c.closeFuncs = append(c.closeFuncs, close)
	}
	var err error
	c.projects, err = compute.NewProjectsRESTClient(ctx, opts...)
	add(func() error { return c.projects.Close() }, err)
	c.instances, err = compute.NewInstancesRESTClient(ctx, opts...)
	add(func() error { return c.instances.Close() }, err)
	c.disks, err = compute.NewDisksRESTClient(ctx, opts...)
	add(func() error { return c.disks.Close() }, err)
	c.snapshots, err = compute.NewSnapshotsRESTClient(ctx, opts...)
	add(func() error { return c.snapshots.Close() }, err)
	c.images, err = compute.NewImagesRESTClient(ctx, opts...)
	add(func() error { return c.images.Close() }, err)
	c.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...)
	add(func() error { return c.globalOps.Close() }, err)
	c.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...)
	add(func() error { return c.zoneOps.Close() }, err)
	c.policies, err = compute.NewResourcePoliciesRESTClient(ctx, opts...)
	add(func() error { return c.policies.Close() }, err)
	c.groups, err = compute.NewInstantSnapshotGroupsRESTClient(ctx, opts...)
	add(func() error { return c.groups.Close() }, err)
	c.instants, err = compute.NewInstantSnapshotsRESTClient(ctx, opts...)
	add(func() error { return c.instants.Close() }, err)
	c.crm, err = crm.NewService(ctx, opts...)
	errs = append(errs, err)
	c.kms, err = cloudkms.NewService(ctx, opts...)
	errs = append(errs, err)
	c.oauth2, err = oauth2.NewService(ctx, opts...)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *clients) close() error {
	var errs []error
	for _, f := range c.closeFuncs {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// retry is the call option of every call: throttled and unavailable answers, the token endpoint's
// included, are tried again with jittered backoff, a bounded number of times. Calls that make
// something carry a requestId, so that a repeat returns the first call's operation instead of doing
// the work twice (https://cloud.google.com/compute/docs/api/how-tos/api-requests-responses#idempotency).
// A connection lost before the answer is left to the engine, which looks up by label what the call made.
func (d *Driver) retry() gax.CallOption {
	return gax.WithRetry(func() gax.Retryer {
		return &boundedRetryer{d: d, max: d.cfg.RetryMaxAttempts, backoff: gax.Backoff{
			Initial: 100 * time.Millisecond, Max: d.cfg.RetryMaxBackoff, Multiplier: 2}}
	})
}

// restCall runs one call of a discovery-based client (google.golang.org/api: Cloud Resource Manager,
// Cloud KMS, OAuth 2.0) under the same bounded retry as the Compute Engine clients, which those
// clients lack: they retry nothing but media uploads. Every such call here only reads.
func restCall[T any](ctx context.Context, d *Driver, call func(context.Context) (T, error)) (T, error) {
	var out T
	err := gax.Invoke(ctx, func(ctx context.Context, _ gax.CallSettings) error {
		var err error
		out, err = call(ctx)
		return err
	}, d.retry())
	return out, err
}

// boundedRetryer stops after max attempts: the engine, which records every failure, decides what
// comes next.
type boundedRetryer struct {
	d       *Driver
	max, n  int
	backoff gax.Backoff
}

func (r *boundedRetryer) Retry(err error) (time.Duration, bool) {
	r.n++
	if r.n >= r.max {
		return 0, false
	}
	switch r.d.ErrorCode(err) {
	case driver.CodeThrottled, driver.CodeUnavailable:
		return r.backoff.Pause(), true
	}
	return 0, false
}
