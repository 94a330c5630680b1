package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/driver"
)

const (
	fleetSource   = "111111111111"
	fleetForensic = "222222222222"
	fleetRegion   = "us-east-1"
	fleetKey      = "7b2e4d6f-8a1c-4e3b-9d5f-0a2c4e6f8b1d"
)

// fleetScenario is n instances with two 1 GiB volumes each. Snapshot and copy durations follow the
// heavy tail of real fleets: most volumes take 1 to 4 seconds, one in ten takes 10 to 20. Every other
// volume is under the AWS managed key (one more copy on its way), and a fifth of mutating calls are
// throttled.
func fleetScenario(n int) *awssim.Scenario {
	src := awssim.ScenarioAccount{ID: fleetSource, Users: []awssim.ScenarioUser{{Name: "responder", AccessKeyID: "AKIAFLEETSOURCE00001", SecretAccessKey: "fleet-source-secret"}}}
	for i := range n {
		inst := awssim.ScenarioInstance{ID: fmt.Sprintf("i-%017x", i+1), Region: fleetRegion}
		for j := range 2 {
			k := 2*i + j
			n := 2 + (k*7)%7 // 2..8 blocks: 1..4 s at 1 MiB/s
			if k%10 == 3 {
				n = 20 + (k*3)%21 // 20..40 blocks: 10..20 s
			}
			blocks := make([]int32, n)
			for b := range blocks {
				blocks[b] = int32(b * 37)
			}
			id := fmt.Sprintf("vol-%017x", k+1)
			src.Volumes = append(src.Volumes, awssim.ScenarioVolume{ID: id, Region: fleetRegion, SizeGiB: 1, Encrypted: k%2 == 0,
				Synthetic: &awssim.SyntheticContent{Blocks: blocks, Seed: uint64(k + 1)}})
			inst.Volumes = append(inst.Volumes, awssim.ScenarioAttachment{VolumeID: id, Device: fmt.Sprintf("/dev/xvd%c", 'a'+j)})
		}
		src.Instances = append(src.Instances, inst)
	}
	return &awssim.Scenario{
		Seed:                   1,
		SnapshotBytesPerSecond: 1 << 20,
		Accounts: []awssim.ScenarioAccount{src, {ID: fleetForensic,
			Users: []awssim.ScenarioUser{{Name: "examiner", AccessKeyID: "AKIAFLEETFORENSIC001", SecretAccessKey: "fleet-forensic-secret"}},
			Keys:  []awssim.ScenarioKey{{ID: fleetKey, Region: fleetRegion}}}},
		Faults: awssim.Faults{Seed: 3, ThrottleMutatingRate: 0.2, Actions: mutatingActions},
	}
}

var mutatingActions = []string{"ec2:CreateSnapshots", "ec2:CreateSnapshot", "ec2:CopySnapshot", "ec2:ModifySnapshotAttribute",
	"ec2:DeleteSnapshot", "kms:CreateKey", "kms:CreateGrant", "kms:RevokeGrant", "kms:ScheduleKeyDeletion"}

// fleetRun acquires the given instances from a fresh simulator and returns the wall time, the
// control-plane calls made and the failures.
func fleetRun(ctx context.Context, n int, instances []string) (time.Duration, map[string]int, int, error) {
	sim, err := awssim.New(fleetScenario(n), nil)
	if err != nil {
		return 0, nil, 0, err
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	d, err := awsdriver.New(ctx, awsdriver.Config{
		Region: fleetRegion, ForensicAccount: fleetForensic, Endpoint: srv.URL,
		SourceCredentials:   credentials.NewStaticCredentialsProvider("AKIAFLEETSOURCE00001", "fleet-source-secret", ""),
		ForensicCredentials: credentials.NewStaticCredentialsProvider("AKIAFLEETFORENSIC001", "fleet-forensic-secret", ""),
		RetryMaxBackoff:     2 * time.Second,
	})
	if err != nil {
		return 0, nil, 0, err
	}
	dir, err := os.MkdirTemp("", "acquire-fleet-")
	if err != nil {
		return 0, nil, 0, err
	}
	defer os.RemoveAll(dir)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sv, _ := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	signer, err := custody.NewSigner(ctx, sv, "file")
	if err != nil {
		return 0, nil, 0, err
	}
	l, err := custody.Create(ctx, filepath.Join(dir, "case"), "FLEET", custody.Options{Signer: signer, Operator: "bench"})
	if err != nil {
		return 0, nil, 0, err
	}
	defer l.Close()
	start := time.Now()
	res, err := acquisition.New(d).Run(ctx, acquisition.Options{
		Ledger: l, Target: driver.Target{Location: fleetRegion, Workloads: instances},
		Destination:  driver.Destination{Account: fleetForensic, Key: fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", fleetRegion, fleetForensic, fleetKey)},
		PollInterval: time.Second, MaxPollInterval: 5 * time.Second,
	})
	elapsed := time.Since(start)
	failures := 0
	if res != nil {
		failures = len(res.Volumes) - countAcquired(res)
	}
	calls := sim.CallCounts()
	return elapsed, calls, failures, err
}

func countAcquired(res *acquisition.Result) int {
	n := 0
	for _, v := range res.Volumes {
		if v.Error == "" && v.Digest != nil {
			n++
		}
	}
	return n
}

// fleetFigures: 50 instances x 2 volumes against the slowest single instance's chain, measured alone
// in the same run.
func fleetFigures(ctx context.Context, n int) ([]figure, error) {
	var all []string
	for i := range n {
		all = append(all, fmt.Sprintf("i-%017x", i+1))
	}
	slowest := slowestInstance(n)
	fmt.Fprintf(os.Stderr, "bench: fleet baseline: the slowest instance alone (%s) ...\n", slowest)
	single, _, fails1, err := fleetRun(ctx, n, []string{slowest})
	if err != nil || fails1 > 0 {
		return nil, fmt.Errorf("fleet baseline: %v (%d failures)", err, fails1)
	}
	fmt.Fprintf(os.Stderr, "bench: fleet: %d instances, %d volumes ...\n", n, 2*n)
	stop := startProfile("fleet")
	total, calls, fails, err := fleetRun(ctx, n, all)
	stop()
	if err != nil {
		return nil, fmt.Errorf("fleet: %v", err)
	}
	var control, describes int
	for action, c := range calls {
		switch {
		case len(action) > 4 && action[:4] == "ebs:":
		case action == "ec2:DescribeSnapshots":
			describes += c
			control += c
		default:
			control += c
		}
	}
	vols := float64(2 * n)
	return []figure{
		{area: "engine", name: fmt.Sprintf("fleet of %d instances x 2 volumes, wall time", n), value: total.Seconds(), unit: "s",
			baseline: single.Seconds(), baseName: "slowest single chain", goal: "<= 1.25", pass: total.Seconds() <= 1.25*single.Seconds(), lowerIsBetter: true},
		{area: "engine", name: "control-plane calls per volume", value: float64(control) / vols, unit: "calls", goal: "", pass: true},
		{area: "engine", name: "snapshot status calls per volume (batched polling)", value: float64(describes) / vols, unit: "calls", goal: "", pass: true},
		{area: "engine", name: "failed volumes", value: float64(fails), unit: "", goal: "0", pass: fails == 0},
	}, nil
}

// slowestInstance is the one whose volumes have the most written blocks (the longest snapshots and copies).
func slowestInstance(n int) string {
	sc := fleetScenario(n)
	best, most := "", -1
	blocks := map[string]int{}
	for _, v := range sc.Accounts[0].Volumes {
		blocks[v.ID] = len(v.Synthetic.Blocks)
		if v.Encrypted {
			blocks[v.ID] *= 2 // one more copy on the way
		}
	}
	for _, in := range sc.Accounts[0].Instances {
		m := 0
		for _, a := range in.Volumes {
			m = max(m, blocks[a.VolumeID])
		}
		if m > most {
			best, most = in.ID, m
		}
	}
	return best
}

// writeFleetScenario writes the fleet as a cloud-range scenario file, for `cloudsim --scenario`.
func writeFleetScenario(path string, n int) error {
	data, err := json.MarshalIndent(map[string]any{"aws": fleetScenario(n)}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
