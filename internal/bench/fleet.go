package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

const (
	fleetSource   = "111111111111"
	fleetForensic = "222222222222"
	fleetRegion   = "us-east-1"
	fleetKey      = "7b2e4d6f-8a1c-4e3b-9d5f-0a2c4e6f8b1d"
)

// fleetScenario is n instances with two 1 GiB volumes each. Snapshot and copy durations follow the
// heavy tail of real fleets: most volumes take 1 to 4 seconds, one in ten takes 10 to 20. Every other
// volume is under the AWS managed key (one more copy on its way), a fifth of mutating calls are
// throttled, and one in twenty fails with a server error.
func fleetScenario(n int) *awssim.Scenario {
	src := awssim.ScenarioAccount{ID: fleetSource, Name: "workload", Users: []awssim.ScenarioUser{{Name: "responder", AccessKeyID: "AKIAFLEETSOURCE00001", SecretAccessKey: "fleet-source-secret"}}}
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
		Accounts: []awssim.ScenarioAccount{src, {ID: fleetForensic, Name: "forensics",
			Users: []awssim.ScenarioUser{{Name: "examiner", AccessKeyID: "AKIAFLEETFORENSIC001", SecretAccessKey: "fleet-forensic-secret"}},
			Keys:  []awssim.ScenarioKey{{ID: fleetKey, Region: fleetRegion, Alias: "alias/evidence", Description: "evidence copies"}}}},
		Faults: awssim.Faults{Seed: 3, ThrottleMutatingRate: 0.2, ServerErrorRate: 0.05, Actions: mutatingActions},
	}
}

var mutatingActions = []string{"ec2:CreateSnapshots", "ec2:CreateSnapshot", "ec2:CopySnapshot", "ec2:ModifySnapshotAttribute",
	"ec2:DeleteSnapshot", "kms:CreateKey", "kms:CreateGrant", "kms:RevokeGrant", "kms:ScheduleKeyDeletion"}

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
