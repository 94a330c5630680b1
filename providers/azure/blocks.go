package azure

import (
	"context"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/acquire-forensics/acquire/providers/azure/sasblocks"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// OpenBlocks grants a read SAS on a forensic snapshot (beginGetAccess, for SASDuration) and opens it
// for reading; closing the source ends the access (endGetAccess). Any access an interrupted earlier
// run left open is ended first, so that a resumed digest leaves none behind.
func (d *Driver) OpenBlocks(ctx context.Context, s driver.Snapshot) (driver.BlockSource, error) {
	rid, err := parseID(s.ID, "snapshots")
	if err != nil {
		return nil, err
	}
	c, err := d.side(driver.Forensic, rid.SubscriptionID)
	if err != nil {
		return nil, err
	}
	snaps := c.compute.NewSnapshotsClient()
	got, err := snaps.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return nil, apiErr(err)
	}
	end := func(ctx context.Context) error {
		p, err := snaps.BeginRevokeAccess(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return apiErr(err)
	}
	if p := got.Properties; p != nil && openSAS(p.DiskState) {
		if err := end(ctx); err != nil {
			return nil, err
		}
	}
	who := "the forensic principal"
	if pr, err := d.Identity(ctx, driver.Forensic); err == nil {
		who += " " + pr.ID
	}
	// The grant runs to its answer even when the run is cancelled meanwhile: a grant abandoned in
	// flight could be carried out after the endGetAccess that should end it.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.PollTimeout)
	defer cancel()
	granted := time.Now()
	p, err := snaps.BeginGrantAccess(gctx, rid.ResourceGroupName, rid.Name, armcompute.GrantAccessData{
		Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr(int32(d.cfg.SASDuration / time.Second))}, nil)
	var out armcompute.SnapshotsClientGrantAccessResponse
	if err == nil {
		out, err = wait(gctx, d, p)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		// A grant whose answer was lost may have been made: end it before giving up.
		return nil, joinEnd(apiErr(err), end(gctx))
	}
	acc := sasblocks.Access{URL: str(out.AccessSAS), Resource: s.ID, Grantee: who, Expires: granted.Add(d.cfg.SASDuration), End: end}
	if gp := got.Properties; gp != nil && gp.DataAccessAuthMode != nil && strings.EqualFold(string(*gp.DataAccessAuthMode), string(armcompute.DataAccessAuthModeAzureActiveDirectory)) {
		acc.Credential = d.cre[driver.Forensic]
	}
	opts := d.cfg.Blocks
	opts.ClientOptions = d.clientOptions(driver.Forensic)
	opts.ClientOptions.PerCallPolicies = nil // blob calls are not ARM calls: their URLs carry the SAS
	if opts.Logger == nil {
		opts.Logger = d.log
	}
	src, err := sasblocks.Open(ctx, acc, &opts)
	if err != nil {
		return nil, err
	}
	return src, nil
}

func joinEnd(err, endErr error) error {
	if endErr == nil {
		return err
	}
	return &joined{err, endErr}
}

type joined struct{ err, end error }

func (j *joined) Error() string {
	return j.err.Error() + " (and ending the access failed: " + j.end.Error() + ")"
}
func (j *joined) Unwrap() error { return j.err }
