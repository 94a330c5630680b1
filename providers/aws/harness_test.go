package aws

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

const (
	srcAccount      = "111111111111"
	forensicAccount = "222222222222"
	region          = "us-east-1"
	otherRegion     = "eu-west-1"
	srcKeyID        = "0b1e7c52-1d8a-4c39-9a57-3f0e2a6b7c11" // customer managed, source account
	forensicKeyID   = "5f0c2b7a-9d3e-4e1f-8a6b-2c4d6e8f0a12"
	forensicKeyID2  = "6a1d3c8b-0e4f-4f2a-9b7c-3d5e7f9a1b23"
)

// imageFixture is a set of small sparse disk images, made once per test binary.
type imageFixture struct {
	once   sync.Once
	dir    string
	err    error
	sha256 map[string]string // by volume ID
	paths  map[string]string
}

var images imageFixture

// volumes of the fixture: ID -> written 512 KiB blocks.
var fixtureVolumes = map[string][]int64{
	"vol-00000000000000001": {0, 1, 7, 1000},        // unencrypted
	"vol-00000000000000002": {0, 3},                 // customer key
	"vol-00000000000000003": {0, 2, 2047},           // aws/ebs
	"vol-00000000000000004": {0, 5, 6},              // instance 1 root (aws/ebs)
	"vol-00000000000000005": {10, 11, 12, 13, 1500}, // instance 1 data (customer key)
	"vol-00000000000000006": {0, 9},                 // instance 2 root, unencrypted
	"vol-00000000000000007": {0, 4},                 // in the other region
}

func (f *imageFixture) make() error {
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "acquire-aws-images-")
		if f.err != nil {
			return
		}
		f.sha256, f.paths = map[string]string{}, map[string]string{}
		for id, blocks := range fixtureVolumes {
			path := filepath.Join(f.dir, id+".img")
			if f.err = providertest.WriteImage(path, blocks); f.err != nil {
				return
			}
			if f.sha256[id], f.err = providertest.FileSHA256(path); f.err != nil {
				return
			}
			f.paths[id] = path
		}
	})
	return f.err
}

// harness runs the conformance suite against the AWS simulator.
type harness struct {
	faults awssim.Faults
}

func scenario(t testing.TB) *awssim.Scenario {
	if err := images.make(); err != nil {
		t.Fatal(err)
	}
	vol := func(id, reg string, encrypted bool, key string) awssim.ScenarioVolume {
		return awssim.ScenarioVolume{ID: id, Region: reg, SizeGiB: 1, Image: images.paths[id], Encrypted: encrypted, KMSKeyID: key}
	}
	return &awssim.Scenario{
		Seed:                   1,
		SnapshotBytesPerSecond: 2 << 30,
		Accounts: []awssim.ScenarioAccount{
			{
				ID: srcAccount, Name: "workload",
				Users: []awssim.ScenarioUser{{Name: "responder", AccessKeyID: "AKIASOURCE0000000001", SecretAccessKey: "source-secret"}},
				Keys:  []awssim.ScenarioKey{{ID: srcKeyID, Region: region, Alias: "alias/workload"}},
				Volumes: []awssim.ScenarioVolume{
					vol("vol-00000000000000001", region, false, ""),
					vol("vol-00000000000000002", region, true, srcKeyID),
					vol("vol-00000000000000003", region, true, ""),
					vol("vol-00000000000000004", region, true, ""),
					vol("vol-00000000000000005", region, true, srcKeyID),
					vol("vol-00000000000000006", region, false, ""),
					vol("vol-00000000000000007", otherRegion, false, ""),
				},
				Instances: []awssim.ScenarioInstance{
					{ID: "i-00000000000000001", Region: region, AvailabilityZone: region + "a", IAMInstanceProfile: "web", UserData: "#!/bin/sh\necho hi\n",
						Volumes: []awssim.ScenarioAttachment{{VolumeID: "vol-00000000000000004", Device: "/dev/xvda"}, {VolumeID: "vol-00000000000000005", Device: "/dev/xvdb"}}},
					{ID: "i-00000000000000002", Region: region, AvailabilityZone: region + "a",
						Volumes: []awssim.ScenarioAttachment{{VolumeID: "vol-00000000000000006", Device: "/dev/xvda"}}},
				},
			},
			{
				ID: forensicAccount, Name: "forensics",
				Users: []awssim.ScenarioUser{{Name: "examiner", AccessKeyID: "AKIAFORENSIC00000001", SecretAccessKey: "forensic-secret"}},
				Keys:  []awssim.ScenarioKey{{ID: forensicKeyID, Region: region, Alias: "alias/evidence"}, {ID: forensicKeyID2, Region: otherRegion, Alias: "alias/evidence"}},
			},
		},
	}
}

func keyARN(reg, account, id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", reg, account, id)
}

// startSim serves a fresh simulator and returns it with a driver for it.
func startSim(t testing.TB, sc *awssim.Scenario, tune func(*Config)) (*awssim.Server, *Driver, string) {
	t.Helper()
	sim, err := awssim.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	cfg := Config{
		Region:              region,
		ForensicAccount:     forensicAccount,
		Endpoint:            srv.URL,
		SourceCredentials:   credentials.NewStaticCredentialsProvider("AKIASOURCE0000000001", "source-secret", ""),
		ForensicCredentials: credentials.NewStaticCredentialsProvider("AKIAFORENSIC00000001", "forensic-secret", ""),
		RetryMaxBackoff:     50 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sim, d, srv.URL
}

func (h harness) New(t *testing.T) *providertest.Env {
	sc := scenario(t)
	sc.Faults = h.faults
	sim, d, _ := startSim(t, sc, nil)
	return h.envFor(d, sim)
}

// envFor is the suite's view of a driver and its simulator (nil in a helper process, which only acts).
func (h harness) envFor(d *Driver, sim *awssim.Server) *providertest.Env {
	one := func(v string) providertest.Scenario {
		return providertest.Scenario{Target: driver.Target{Location: region, Volumes: []string{v}}, Volumes: []string{v}}
	}
	return &providertest.Env{
		Driver:      d,
		Destination: driver.Destination{Account: forensicAccount, Location: region, Key: keyARN(region, forensicAccount, forensicKeyID)},
		Scenarios: map[string]providertest.Scenario{
			"single-volume": one("vol-00000000000000001"),
			"customer-key":  one("vol-00000000000000002"),
			"default-key":   one("vol-00000000000000003"),
			"two-volume-instance": {Target: driver.Target{Location: region, Workloads: []string{"i-00000000000000001"}},
				Volumes: []string{"vol-00000000000000004", "vol-00000000000000005"}},
			"cross-location": {Target: driver.Target{Location: region, Volumes: []string{"vol-00000000000000002"}}, Volumes: []string{"vol-00000000000000002"},
				Destination: &driver.Destination{Account: forensicAccount, Location: otherRegion, Key: keyARN(otherRegion, forensicAccount, forensicKeyID2)}},
			"two-instances": {Target: driver.Target{Location: region, Workloads: []string{"i-00000000000000001", "i-00000000000000002"}},
				Volumes: []string{"vol-00000000000000004", "vol-00000000000000005", "vol-00000000000000006"}},
		},
		Inspect:       inspector{sim},
		Faults:        &simFaults{sim: sim, base: h.faults},
		CreatingCalls: []string{"ec2:CreateSnapshots", "ec2:CreateSnapshot", "ec2:CopySnapshot", "kms:CreateKey", "kms:CreateGrant"},
		LockMode:      &driver.LockRequest{Mode: "governance", Days: 1},
		Cannot:        map[providertest.Ability]string{},
		ErrorCodes:    errorCases(),
		Tune: func(o *acquisition.Options) {
			o.PollInterval, o.MaxPollInterval, o.RetryBackoff, o.MissingTimeout, o.RetryDeadline = 5*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond, 2*time.Second, 5*time.Second
		},
	}
}

type inspector struct{ sim *awssim.Server }

func (i inspector) Snapshots(side driver.Side) []providertest.SnapshotInfo {
	account := srcAccount
	if side == driver.Forensic {
		account = forensicAccount
	}
	var out []providertest.SnapshotInfo
	for _, s := range i.sim.Snapshots() {
		if s.OwnerID != account || s.Tags["acquire:role"] == driver.RoleTemporary {
			continue
		}
		vol := s.Tags["acquire:source-volume"]
		if vol == "" {
			vol = s.VolumeID
		}
		out = append(out, providertest.SnapshotInfo{ID: s.ID, Location: s.Region, SourceVolume: vol, KeyID: s.KMSKeyARN,
			State: s.State, Encrypted: s.Encrypted, Locked: s.LockState != "", Case: s.Tags["acquire:case"]})
	}
	return out
}

// Temporaries: shares of source snapshots, grants on source keys for the forensic account, keys the
// acquisition made that are not pending deletion, and intermediate copies.
func (i inspector) Temporaries() []string {
	var out []string
	for _, s := range i.sim.Shares() {
		if s.OwnerID == srcAccount {
			out = append(out, fmt.Sprintf("share of %s with %v (public %v)", s.SnapshotID, s.AccountIDs, s.Public))
		}
	}
	for _, g := range i.sim.Grants() {
		if strings.Contains(g.KeyARN, ":"+srcAccount+":") && g.Grantee == "arn:aws:iam::"+forensicAccount+":root" {
			out = append(out, "grant "+g.GrantID+" on "+g.KeyARN)
		}
	}
	for _, k := range i.sim.Keys() {
		if k.AccountID == srcAccount && !k.AWSManaged && k.State != "PendingDeletion" && k.ARN != keyARN(region, srcAccount, srcKeyID) {
			out = append(out, "key "+k.ARN)
		}
	}
	for _, s := range i.sim.Snapshots() {
		if s.OwnerID == srcAccount && s.Tags["acquire:role"] == driver.RoleTemporary {
			out = append(out, "intermediate copy "+s.ID)
		}
	}
	return out
}

func (i inspector) ImageSHA256(volumeID string) string { return images.sha256[volumeID] }

// simFaults adds the suite's faults to the harness's own.
type simFaults struct {
	sim  *awssim.Server
	base awssim.Faults
	cur  awssim.Faults
}

func (f *simFaults) apply() {
	f.sim.SetFaults(f.cur)
}

func (f *simFaults) LoseReplies(call string, n int) {
	f.cur = f.merged()
	f.cur.LostReplies = append(f.cur.LostReplies, awssim.LostReply{Action: call, Rate: 1, Max: n})
	f.apply()
}

func (f *simFaults) FailSnapshots(vols ...string) {
	f.cur = f.merged()
	f.cur.FailSnapshotVolumes = append(f.cur.FailSnapshotVolumes, vols...)
	f.apply()
}

func (f *simFaults) merged() awssim.Faults {
	if f.cur.Seed == 0 && len(f.cur.LostReplies) == 0 && len(f.cur.FailSnapshotVolumes) == 0 {
		return f.base
	}
	return f.cur
}

func (f *simFaults) Clear() {
	f.cur = f.base
	f.apply()
}

func (f *simFaults) Calls() map[string]int { return f.sim.CallCounts() }

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, harness{})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if images.dir != "" {
		os.RemoveAll(images.dir)
	}
	os.Exit(code)
}
