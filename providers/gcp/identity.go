package gcp

import (
	"context"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Identity reads the side's project (proving the credentials reach it) and names the service account
// the credentials act as, with the project's number.
func (d *Driver) Identity(ctx context.Context, side driver.Side) (driver.Principal, error) {
	p, err := d.sides[side].projects.Get(ctx, &computepb.GetProjectRequest{Project: d.project(side)}, d.retry())
	if err != nil {
		return driver.Principal{}, err
	}
	id := d.emails[side]
	if id == "" {
		id = "application default credentials (no service account named)"
	}
	return driver.Principal{Side: side, Account: p.GetName(), ID: id, AccountNumber: strconv.FormatUint(p.GetId(), 10)}, nil
}
