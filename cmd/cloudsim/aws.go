package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

// awsCloud serves the AWS simulator in the range.
type awsCloud struct {
	*awssim.Server
	region string
}

// loadAWSCloud builds the AWS cloud. With a saver, it restores the state
// saved in the saver's directory, if there is one, and reports changes to
// the saver.
func loadAWSCloud(raw json.RawMessage, baseDir string, logger *slog.Logger, saver *stateSaver) (*awsCloud, error) {
	if saver == nil {
		return newAWSCloud(raw, baseDir, logger, nil, nil)
	}
	f, err := openState(saver.dir, "aws")
	if err != nil {
		return nil, err
	}
	if f == nil {
		return newAWSCloud(raw, baseDir, logger, nil, saver.changed)
	}
	defer f.Close()
	c, err := newAWSCloud(raw, baseDir, logger, f, saver.changed)
	if errors.Is(err, awssim.ErrStateRefused) {
		return nil, fmt.Errorf("%s: %w; or remove that file to start afresh from the scenario", f.Name(), err)
	}
	return c, err
}

// newAWSCloud builds the AWS simulator from its scenario and, when state is
// not nil, the state it saved before (see awssim.Options.State). onChange,
// when not nil, hears of every change to the state.
func newAWSCloud(raw json.RawMessage, baseDir string, logger *slog.Logger, state io.Reader, onChange func()) (*awsCloud, error) {
	sc, err := awssim.ParseScenario(raw, baseDir)
	if err != nil {
		return nil, err
	}
	sim, err := awssim.New(sc, &awssim.Options{Logger: logger.With("cloud", "aws"), State: state, OnChange: onChange})
	if err != nil {
		return nil, err
	}
	return &awsCloud{Server: sim, region: defaultRegion(sc)}, nil
}

// Restored says how much state the simulator restored at start.
func (a *awsCloud) Restored() (string, bool) {
	summary, ok := a.RestoredState()
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s (saved %s)", summary, summary.SavedAt.Format(time.RFC3339)), true
}

// defaultRegion is the region of the scenario's first instance or volume.
func defaultRegion(sc *awssim.Scenario) string {
	for _, a := range sc.Accounts {
		for _, in := range a.Instances {
			return in.Region
		}
		for _, v := range a.Volumes {
			return v.Region
		}
	}
	return "us-east-1"
}

func (a *awsCloud) Name() string { return "aws" }

// Claims takes every SigV4-signed request: all AWS clients sign.
func (a *awsCloud) Claims(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") ||
		r.Header.Get("X-Amz-Target") != "" || r.URL.Query().Get("X-Amz-Signature") != ""
}

// notInProfileName matches what a profile name may not hold.
var notInProfileName = regexp.MustCompile(`[^a-z0-9_.-]+`)

// profileName turns an account or user name into a profile name.
func profileName(parts ...string) string {
	name := strings.ToLower(strings.Join(parts, "-"))
	return notInProfileName.ReplaceAllString(name, "-")
}

// WriteClientFiles writes an AWS config and credentials file: one profile
// per account (its first user) and one per further user (account-user).
// AWS_ENDPOINT_URL and endpoint_url reach the SDKs and AWS CLI 2.13 or
// later; older CLIs need --endpoint-url.
func (a *awsCloud) WriteClientFiles(dir, endpoint string) ([]envVar, error) {
	awsDir := filepath.Join(dir, "aws")
	if err := os.MkdirAll(awsDir, 0o700); err != nil {
		return nil, err
	}
	var config, credentials strings.Builder
	var env []envVar
	firstProfile := ""
	for _, acct := range a.Accounts() {
		base := profileName(acct.Name)
		if acct.Name == "" {
			base = acct.ID
		}
		for i, u := range acct.Users {
			profile := base
			if i > 0 {
				profile = profileName(base, u.UserName)
			}
			if firstProfile == "" {
				firstProfile = profile
			}
			fmt.Fprintf(&config, "[profile %s]\nregion = %s\nendpoint_url = %s\noutput = json\n\n", profile, a.region, endpoint)
			fmt.Fprintf(&credentials, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", profile, u.AccessKeyID, u.SecretAccessKey)
			envName := strings.ToUpper(strings.ReplaceAll(profile, "-", "_"))
			env = append(env,
				envVar{"CLOUDSIM_AWS_" + envName + "_ACCOUNT_ID", acct.ID},
				envVar{"CLOUDSIM_AWS_" + envName + "_ACCESS_KEY_ID", u.AccessKeyID},
				envVar{"CLOUDSIM_AWS_" + envName + "_SECRET_ACCESS_KEY", u.SecretAccessKey})
		}
	}
	if firstProfile == "" {
		return nil, fmt.Errorf("the scenario has no user with an access key")
	}
	fmt.Fprintf(&config, "[default]\nregion = %s\nendpoint_url = %s\noutput = json\n\n", a.region, endpoint)
	first := a.Accounts()[0].Users
	if len(first) > 0 {
		fmt.Fprintf(&credentials, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", first[0].AccessKeyID, first[0].SecretAccessKey)
	}
	configPath, credentialsPath := filepath.Join(awsDir, "config"), filepath.Join(awsDir, "credentials")
	if err := os.WriteFile(configPath, []byte(config.String()), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(credentialsPath, []byte(credentials.String()), 0o600); err != nil {
		return nil, err
	}
	return append([]envVar{
		{"AWS_ENDPOINT_URL", endpoint},
		{"AWS_CONFIG_FILE", configPath},
		{"AWS_SHARED_CREDENTIALS_FILE", credentialsPath},
		{"AWS_REGION", a.region},
		{"AWS_DEFAULT_REGION", a.region},
		{"AWS_PROFILE", firstProfile},
		{"AWS_EC2_METADATA_DISABLED", "true"},
	}, env...), nil
}

// Summary lists accounts, profiles and users, without secrets.
func (a *awsCloud) Summary() []string {
	var out []string
	for _, acct := range a.Accounts() {
		var users []string
		for _, u := range acct.Users {
			users = append(users, u.ARN+" ("+u.AccessKeyID+")")
		}
		profile := acct.ID
		if acct.Name != "" {
			profile = profileName(acct.Name)
		}
		out = append(out, fmt.Sprintf("account %s, profile %s: %s", acct.ID, profile, strings.Join(users, ", ")))
	}
	return append(out, "region "+a.region+"; set AWS_ENDPOINT_URL, or pass --endpoint-url to AWS CLI before 2.13")
}
