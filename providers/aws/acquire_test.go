package aws

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestFaultsStillComplete: 20% throttling on every call, 5% server errors and added latency, and the
// acquisition still completes with the same end state.
func TestFaultsStillComplete(t *testing.T) {
	h := harness{faults: awssim.Faults{Seed: 7, ThrottleMutatingRate: 0.2, ThrottleDescribeRate: 0.2, ServerErrorRate: 0.05, Latency: awssim.Duration(2 * time.Millisecond)}}
	for _, name := range []string{"default-key", "two-volume-instance"} {
		t.Run(name, func(t *testing.T) {
			env := h.New(t)
			sc := env.Scenarios[name]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, nil)
			if err != nil {
				t.Fatalf("acquisition under faults: %v", err)
			}
			providertest.CheckEndState(t, env, c, sc, res)
		})
	}
}

// denyScenario is the fixture with the source responder's permissions limited to the policy minus
// one action.
func denyScenario(t *testing.T, missing string) *awssim.Scenario {
	sc := scenario(t)
	var allow []string
	for _, a := range Permissions(driver.Source) {
		if a != missing {
			allow = append(allow, a)
		}
	}
	sc.Accounts[0].Users[0].Allow = allow
	return sc
}

// TestAccessDeniedIsClearAndCleanedUp: a permission missing at the share step or at the key step ends
// the acquisition with an error naming it, leaves nothing shared and no temporary key alive, and the
// failure is in the case, which verifies.
func TestAccessDeniedIsClearAndCleanedUp(t *testing.T) {
	for _, missing := range []string{"ec2:ModifySnapshotAttribute", "kms:CreateKey", "kms:CreateGrant"} {
		t.Run(missing, func(t *testing.T) {
			sim, d, _ := startSim(t, denyScenario(t, missing), nil)
			env := (harness{}).New(t)
			env.Driver, env.Inspect = d, inspector{sim}
			sc := env.Scenarios["default-key"]
			if missing == "kms:CreateGrant" {
				sc = env.Scenarios["customer-key"]
			}
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, sc, nil)
			if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), missing) {
				t.Fatalf("error %v: want permission-denied naming %s", err, missing)
			}
			if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
				t.Errorf("temporary resources alive: %v", tmp)
			}
			for _, s := range sim.Snapshots() {
				if s.Tags["acquire:role"] == "intermediate-copy" {
					t.Errorf("intermediate copy %s left behind", s.ID)
				}
			}
			r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier})
			if err != nil || !r.OK() {
				t.Fatalf("the case does not verify: %v %v", err, r.Problems)
			}
			if !failureRecorded(t, c.Dir, "permission-denied", missing) {
				t.Error("no failed record names the missing permission")
			}
		})
	}
}

func failureRecorded(t *testing.T, dir, code, text string) bool {
	recs, err := custody.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		res := r.Statement.Predicate.Result
		if res.Status != custody.StatusOK && res.Code == code && strings.Contains(res.Message, text) {
			return true
		}
	}
	return false
}

// TestBadTargets: an unknown instance, malformed IDs, a volume in another region and missing
// credentials fail with clear errors and their codes, and create nothing.
func TestBadTargets(t *testing.T) {
	tests := []struct {
		name   string
		target driver.Target
		code   driver.Code
		text   string
	}{
		{"unknown instance", driver.Target{Location: region, Workloads: []string{"i-0000000000000dead"}}, driver.CodeNotFound, "i-0000000000000dead"},
		{"malformed instance", driver.Target{Location: region, Workloads: []string{"i-xyz"}}, driver.CodeInvalid, "i-xyz"},
		{"malformed volume", driver.Target{Location: region, Volumes: []string{"volume-1"}}, driver.CodeInvalid, "volume-1"},
		{"volume in another region", driver.Target{Location: region, Volumes: []string{"vol-00000000000000007"}}, driver.CodeNotFound, "vol-00000000000000007"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := (harness{}).New(t)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, providertest.Scenario{Target: tc.target}, nil)
			if driver.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want %s naming %s", err, tc.code, tc.text)
			}
			if s := env.Inspect.Snapshots(driver.Source); len(s) > 0 {
				t.Errorf("snapshots were made: %v", s)
			}
			if r, err := custody.Verify(context.Background(), c.Dir, custody.VerifyOptions{Verifier: c.Verifier}); err != nil || !r.OK() {
				t.Fatalf("the case does not verify: %v", err)
			}
		})
	}
	t.Run("missing credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		t.Setenv("AWS_PROFILE", "")
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		env := (harness{}).New(t)
		_, d, _ := startSim(t, scenario(t), func(c *Config) { c.SourceCredentials = nil })
		env.Driver = d
		c := providertest.NewCase(t)
		_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
		if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), "credentials") {
			t.Fatalf("error %v: want permission-denied about credentials", err)
		}
	})
}

// TestNoSecretsAnywhere runs acquisitions with a debug log and scans every file of the cases, the log
// and the errors for the secret keys.
func TestNoSecretsAnywhere(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := (harness{}).New(t)
	sim, d, _ := startSim(t, denyScenario(t, "ec2:ModifySnapshotAttribute"), func(c *Config) { c.Logger = logger })
	dirs := []string{}
	for _, drv := range []driver.Driver{env.Driver, d} {
		c := providertest.NewCase(t)
		e := *env
		e.Driver, e.Inspect = drv, inspector{sim}
		_, err := providertest.Acquire(context.Background(), t, &e, c, env.Scenarios["default-key"], func(o *acquisition.Options) { o.Logger = logger })
		if err != nil {
			logs.WriteString(err.Error())
		}
		dirs = append(dirs, c.Dir)
	}
	secrets := []string{"source-secret", "forensic-secret"}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			data, _ := os.ReadFile(p)
			for _, s := range secrets {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("%s holds a secret key", p)
				}
			}
			return nil
		})
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds a secret key")
		}
	}
}

// TestSourceRole: the responder's credentials are the forensic account's; the source side is reached
// by assuming a role the compromised account trusts the forensic account with, and the records name
// that session.
func TestSourceRole(t *testing.T) {
	sc := scenario(t)
	sc.Accounts[0].Roles = []awssim.ScenarioRole{{Name: "IncidentResponse", Trust: []string{forensicAccount}}}
	sim, d, _ := startSim(t, sc, func(c *Config) {
		c.SourceCredentials = c.ForensicCredentials
		c.SourceRole = "arn:aws:iam::" + srcAccount + ":role/IncidentResponse"
		c.SessionName = "IR-TEST-jdoe"
	})
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, env.Scenarios["single-volume"], res)
	want := "arn:aws:sts::" + srcAccount + ":assumed-role/IncidentResponse/IR-TEST-jdoe"
	if got := res.Principals[driver.Source].ID; got != want {
		t.Fatalf("source principal %s, want %s", got, want)
	}
	recs, err := custody.ReadRecords(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		found = found || r.Statement.Predicate.Action == "snapshot.create" && r.Statement.Predicate.Actor.Principal == want
	}
	if !found {
		t.Error("no snapshot record names the assumed-role session")
	}
}

// TestResumedCaptureKeepsBoth: a describe resumed after a crash finds its artifact name taken by an
// earlier capture with other content (the workload changed in between); both are kept, and the case
// verifies.
func TestResumedCaptureKeepsBoth(t *testing.T) {
	env := (harness{}).New(t)
	c := providertest.NewCase(t)
	l := c.Open(t)
	if _, err := l.AddArtifact("aws/vol-00000000000000001/volume.json", []byte("[] \n"), "application/json"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, env.Scenarios["single-volume"], res)
	matches, _ := filepath.Glob(filepath.Join(c.Dir, "artifacts/aws/vol-00000000000000001/volume.json*"))
	if len(matches) != 2 {
		t.Fatalf("artifacts %v, want the earlier capture and the new one", matches)
	}
}

// errorCases are AWS errors by the engine's code each maps to, as the SDK builds them.
func errorCases() []providertest.ErrorCase {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "test"} }
	status := func(n int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: n}}, Err: errors.New("test")}}
	}
	return []providertest.ErrorCase{
		{Name: "snapshot not found", Err: api("InvalidSnapshot.NotFound"), Want: driver.CodeNotFound},
		{Name: "instance not found", Err: api("InvalidInstanceID.NotFound"), Want: driver.CodeNotFound},
		{Name: "KMS key not found", Err: api("NotFoundException"), Want: driver.CodeNotFound},
		{Name: "EC2 denied", Err: api("UnauthorizedOperation"), Want: driver.CodePermissionDenied},
		{Name: "KMS denied", Err: api("AccessDeniedException"), Want: driver.CodePermissionDenied},
		{Name: "expired token", Err: api("ExpiredToken"), Want: driver.CodePermissionDenied},
		{Name: "EC2 throttling", Err: api("RequestLimitExceeded"), Want: driver.CodeThrottled},
		{Name: "EBS throttling", Err: api("RequestThrottledException"), Want: driver.CodeThrottled},
		{Name: "per-volume snapshot rate", Err: api("SnapshotCreationPerVolumeRateExceeded"), Want: driver.CodeThrottled},
		{Name: "too many copies in progress", Err: api("ResourceLimitExceeded"), Want: driver.CodeThrottled},
		{Name: "EC2 internal error", Err: api("InternalError"), Want: driver.CodeUnavailable},
		{Name: "KMS internal error", Err: api("KMSInternalException"), Want: driver.CodeUnavailable},
		{Name: "malformed ID", Err: api("InvalidVolumeID.Malformed"), Want: driver.CodeInvalid},
		{Name: "bad parameter", Err: api("InvalidParameterValue"), Want: driver.CodeInvalid},
		{Name: "key disabled", Err: api("DisabledException"), Want: driver.CodeConflict},
		{Name: "HTTP 503", Err: status(503), Want: driver.CodeUnavailable},
		{Name: "HTTP 429", Err: status(429), Want: driver.CodeThrottled},
		{Name: "HTTP 403", Err: status(403), Want: driver.CodePermissionDenied},
		{Name: "checksum mismatch", Err: &integrityError{SnapshotID: "snap-1", BlockIndex: 3}, Want: driver.CodeIntegrity},
		{Name: "no credentials", Err: errors.New("failed to retrieve credentials: no source"), Want: driver.CodePermissionDenied},
	}
}

// TestPlanRefusals: limits the cloud would refuse only after snapshots and copies were made are
// refused before anything is made: lock settings outside LockSnapshot's range, and a forensic key that
// does not exist.
func TestPlanRefusals(t *testing.T) {
	tests := []struct {
		name string
		code driver.Code
		text string
		tune func(*acquisition.Options)
	}{
		{"cool-off too long", driver.CodeInvalid, "cool-off period 100 hours", func(o *acquisition.Options) {
			o.Lock = &driver.LockRequest{Mode: "compliance", Days: 7, CoolOffHours: 100}
		}},
		{"cool-off on governance", driver.CodeInvalid, "compliance locks only", func(o *acquisition.Options) {
			o.Lock = &driver.LockRequest{Mode: "governance", Days: 7, CoolOffHours: 2}
		}},
		{"unknown mode", driver.CodeInvalid, "governance or compliance", func(o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "legal-hold", Days: 7} }},
		{"lock too long", driver.CodeInvalid, "1 to 36500", func(o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "governance", Days: 40000} }},
		{"unknown forensic key", driver.CodeNotFound, "alias/nothing", func(o *acquisition.Options) { o.Destination.Key = "alias/nothing" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := (harness{}).New(t)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["default-key"], tc.tune)
			if driver.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: want %s naming %q", err, tc.code, tc.text)
			}
			for _, side := range []driver.Side{driver.Source, driver.Forensic} {
				if s := env.Inspect.Snapshots(side); len(s) > 0 {
					t.Errorf("snapshots were made on the %s side: %v", side, s)
				}
			}
			if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
				t.Errorf("temporary resources were made: %v", tmp)
			}
		})
	}
}

// TestIntegrityRetriesRecorded: blocks whose checksum did not match were read again, and the digest
// record and the evidence say how many and which.
func TestIntegrityRetriesRecorded(t *testing.T) {
	env := (harness{faults: awssim.Faults{Seed: 5, WrongChecksumRate: 0.5}}).New(t)
	sc := env.Scenarios["single-volume"] // four blocks: at least one mismatch has probability 15/16; the seed makes it so
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckEndState(t, env, c, sc, res)
	it := providertest.RecordedEvidence(t, c.Dir)[sc.Volumes[0]]
	if it.Digest == nil || it.Digest.IntegrityRetries == 0 || len(it.Digest.RetriedBlocks) == 0 {
		t.Fatalf("the evidence records no integrity retries under 50%% wrong checksums: %+v", it.Digest)
	}
}
