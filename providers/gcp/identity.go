package gcp

import (
	"context"
	"fmt"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	oauth2 "google.golang.org/api/oauth2/v2"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Identity reads the side's project (proving the credentials reach it) and names the principal the
// credentials act as, with the project's number: the service account the credentials name, or for a
// user's credentials the user's email as the cloud tells it.
func (d *Driver) Identity(ctx context.Context, side driver.Side) (driver.Principal, error) {
	p, err := d.sides[side].projects.Get(ctx, &computepb.GetProjectRequest{Project: d.project(side)}, d.retry())
	if err != nil {
		return driver.Principal{}, err
	}
	id := d.emails[side]
	if d.users[side] {
		if id, err = d.userEmail(ctx, side); err != nil {
			return driver.Principal{}, err
		}
	}
	if id == "" {
		id = "application default credentials (no service account named)"
	}
	return driver.Principal{Side: side, Account: p.GetName(), ID: id, AccountNumber: strconv.FormatUint(p.GetId(), 10)}, nil
}

// userEmail asks the OAuth 2.0 userinfo endpoint whom a user's access token was issued to
// (https://developers.google.com/identity/openid-connect/openid-connect#obtaininguserprofileinformation):
// the email is there when the token carries the userinfo.email scope, which gcloud auth
// application-default login grants.
func (d *Driver) userEmail(ctx context.Context, side driver.Side) (string, error) {
	info, err := restCall(ctx, d, func(ctx context.Context) (*oauth2.Userinfo, error) {
		return d.sides[side].oauth2.Userinfo.Get().Context(ctx).Do()
	})
	if err != nil {
		return "", fmt.Errorf("asking who the user credentials belong to: %w", err)
	}
	if info.Email == "" {
		return "", invalidf("the user credentials do not show whose they are (their token lacks the userinfo.email scope): " +
			"run gcloud auth application-default login again, which grants it, or use a service account's key")
	}
	return info.Email, nil
}
