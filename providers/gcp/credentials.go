package gcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/impersonate"
)

// scope is what the driver's tokens are for: Compute Engine, and Cloud Storage for the image bucket.
const scope = "https://www.googleapis.com/auth/cloud-platform"

// iamCredentialsEndpoint serves generateAccessToken.
// https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken
const iamCredentialsEndpoint = "https://iamcredentials.googleapis.com"

// acceptedTypes are the credential files the driver loads: the kinds gcloud and the IAM console write.
// Any other is refused rather than trusted blindly (a credential file can name arbitrary URLs).
var acceptedTypes = []credentials.CredType{credentials.ServiceAccount, credentials.AuthorizedUser,
	credentials.ImpersonatedServiceAccount, credentials.ExternalAccount}

// credFile is what the driver reads of a credential file: its type and whom it names. Never the key.
type credFile struct {
	Type             string `json:"type"`
	ClientEmail      string `json:"client_email"`
	ImpersonationURL string `json:"service_account_impersonation_url"`
}

// loadCredentials reads a credential file, or Application Default Credentials when file is empty,
// and, when impersonate names a service account, acts as it through generateAccessToken. It returns
// the service-account email the credentials act as, where they tell.
func loadCredentials(file, impersonateSA, endpoint string) (*auth.Credentials, string, error) {
	var creds *auth.Credentials
	var raw []byte
	var err error
	if file != "" {
		raw, err = os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("reading the credentials file: %w", err)
		}
		creds, err = fromJSON(raw, endpoint)
		if err != nil {
			return nil, "", fmt.Errorf("credentials file %s: %w", file, err)
		}
	} else {
		creds, err = credentials.DetectDefault(detectOptions(endpoint))
		if err != nil {
			return nil, "", fmt.Errorf("no Application Default Credentials (give --credentials, set GOOGLE_APPLICATION_CREDENTIALS, or run gcloud auth application-default login): %w", err)
		}
		raw = creds.JSON()
	}
	email := emailOf(raw)
	if impersonateSA == "" {
		return creds, email, nil
	}
	if !strings.HasSuffix(impersonateSA, ".gserviceaccount.com") || !strings.Contains(impersonateSA, "@") {
		return nil, "", fmt.Errorf("%q is not a service-account email (NAME@PROJECT.iam.gserviceaccount.com)", impersonateSA)
	}
	base := iamCredentialsEndpoint
	if endpoint != "" {
		base = strings.TrimSuffix(endpoint, "/")
	}
	if len(raw) > 0 {
		// The ADC file gcloud writes for --impersonate-service-account, built here so that the
		// impersonation endpoint can be the cloud range's.
		imp, err := json.Marshal(map[string]any{
			"type":                              "impersonated_service_account",
			"service_account_impersonation_url": base + "/v1/projects/-/serviceAccounts/" + impersonateSA + ":generateAccessToken",
			"source_credentials":                json.RawMessage(raw),
			"delegates":                         []string{},
		})
		if err != nil {
			return nil, "", err
		}
		creds, err = credentials.NewCredentialsFromJSON(credentials.ImpersonatedServiceAccount, imp, &credentials.DetectOptions{Scopes: []string{scope}})
		if err != nil {
			return nil, "", fmt.Errorf("impersonating %s: %w", impersonateSA, err)
		}
		return creds, impersonateSA, nil
	}
	creds, err = impersonate.NewCredentials(&impersonate.CredentialsOptions{TargetPrincipal: impersonateSA, Scopes: []string{scope}, Credentials: creds})
	if err != nil {
		return nil, "", fmt.Errorf("impersonating %s: %w", impersonateSA, err)
	}
	return creds, impersonateSA, nil
}

// detectOptions are the credentials' options: the driver's scope and, against the cloud range, its
// token endpoint for user credentials (whose files name none: gcloud's are Google's).
func detectOptions(endpoint string) *credentials.DetectOptions {
	o := &credentials.DetectOptions{Scopes: []string{scope}}
	if endpoint != "" {
		o.TokenURL = strings.TrimSuffix(endpoint, "/") + "/token"
	}
	return o
}

// isUser reports whether credentials are a user's (gcloud auth application-default login), whose
// file does not say who the user is.
func isUser(creds *auth.Credentials) bool {
	var f credFile
	return json.Unmarshal(creds.JSON(), &f) == nil && credentials.CredType(f.Type) == credentials.AuthorizedUser
}

func fromJSON(raw []byte, endpoint string) (*auth.Credentials, error) {
	var f credFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("not a JSON credentials file")
	}
	for _, t := range acceptedTypes {
		if credentials.CredType(f.Type) == t {
			return credentials.NewCredentialsFromJSON(t, raw, detectOptions(endpoint))
		}
	}
	return nil, fmt.Errorf("credentials of type %q are not accepted: use a service-account key, gcloud's application-default file, or an impersonated or external account file", f.Type)
}

// emailOf is the service account a credential file acts as, where it names one.
func emailOf(raw []byte) string {
	var f credFile
	if json.Unmarshal(raw, &f) != nil {
		return ""
	}
	switch credentials.CredType(f.Type) {
	case credentials.ServiceAccount:
		return f.ClientEmail
	case credentials.ImpersonatedServiceAccount:
		// .../serviceAccounts/EMAIL:generateAccessToken
		u := f.ImpersonationURL
		if i := strings.LastIndex(u, "/serviceAccounts/"); i >= 0 {
			return strings.TrimSuffix(u[i+len("/serviceAccounts/"):], ":generateAccessToken")
		}
	}
	return ""
}
