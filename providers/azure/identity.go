package azure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Identity reads who a side's credential is from its ARM token's claims (object ID and tenant; Entra ID
// signs them, ARM trusts them): getting the token proves the credential. ARM refuses a token of another
// tenant than the subscription's at the first call. The token itself is never kept.
func (d *Driver) Identity(ctx context.Context, side driver.Side) (driver.Principal, error) {
	tok, err := d.cre[side].GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{d.armScope()}})
	if err != nil {
		return driver.Principal{}, err
	}
	claims, err := tokenClaims(tok.Token)
	if err != nil {
		return driver.Principal{}, fmt.Errorf("reading the %s side's token: %w", side, err)
	}
	id := claims.ObjectID
	if claims.AppID != "" {
		id += " (application " + claims.AppID + ")"
	}
	return driver.Principal{Side: side, Account: d.subscription(side), ID: id, Tenant: claims.Tenant}, nil
}

func (d *Driver) armScope() string {
	aud := d.cfg.Cloud.Services[cloud.ResourceManager].Audience
	return strings.TrimSuffix(aud, "/") + "/.default"
}

type claims struct {
	ObjectID string `json:"oid"`
	Tenant   string `json:"tid"`
	AppID    string `json:"appid"`
	AZP      string `json:"azp"`
}

// tokenClaims decodes a JWT's payload; the signature is Entra ID's to check and ARM's to trust.
func tokenClaims(jwt string) (claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims{}, errors.New("the access token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, errors.New("the access token's payload is not base64url")
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return claims{}, errors.New("the access token's payload is not JSON")
	}
	if c.AppID == "" {
		c.AppID = c.AZP
	}
	if c.ObjectID == "" || c.Tenant == "" {
		return claims{}, errors.New("the access token names no object ID (oid) or tenant (tid)")
	}
	return c, nil
}
