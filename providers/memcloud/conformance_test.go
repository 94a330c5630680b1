package memcloud

import (
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

type harness struct{ cfg Config }

func (h harness) New(t *testing.T) *providertest.Env {
	c := New(h.cfg)
	env := &providertest.Env{
		Driver:      c,
		Destination: driver.Destination{Account: ForensicAccount, Key: ForensicKey},
		Scenarios: map[string]providertest.Scenario{
			"single-volume":       {Target: driver.Target{Volumes: []string{"vol-plain"}}, Volumes: []string{"vol-plain"}},
			"customer-key":        {Target: driver.Target{Volumes: []string{"vol-cmk"}}, Volumes: []string{"vol-cmk"}},
			"default-key":         {Target: driver.Target{Volumes: []string{"vol-default"}}, Volumes: []string{"vol-default"}},
			"two-volume-instance": {Target: driver.Target{Workloads: []string{"vm-1"}}, Volumes: []string{"vol-root", "vol-data"}},
			"two-instances":       {Target: driver.Target{Workloads: []string{"vm-1"}, Volumes: []string{"vol-plain"}}, Volumes: []string{"vol-root", "vol-data", "vol-plain"}},
		},
		Inspect:       inspector{c},
		Faults:        faults{c},
		CreatingCalls: []string{"CreateSnapshots"},
		LockMode:      &driver.LockRequest{Mode: "hold", Days: 1},
		Cannot:        map[providertest.Ability]string{},
		ErrorCodes: []providertest.ErrorCase{
			{Name: "not found", Err: &Error{Code: driver.CodeNotFound}, Want: driver.CodeNotFound},
			{Name: "denied", Err: &Error{Code: driver.CodePermissionDenied}, Want: driver.CodePermissionDenied},
			{Name: "throttled", Err: &Error{Code: driver.CodeThrottled}, Want: driver.CodeThrottled},
			{Name: "unavailable", Err: &Error{Code: driver.CodeUnavailable}, Want: driver.CodeUnavailable},
			{Name: "invalid", Err: &Error{Code: driver.CodeInvalid}, Want: driver.CodeInvalid},
		},
		Tune: func(o *acquisition.Options) {
			o.PollInterval, o.MaxPollInterval, o.RetryBackoff, o.RetryDeadline = time.Millisecond, 5*time.Millisecond, time.Millisecond, time.Second
		},
	}
	if h.cfg.Shape == Transfer {
		env.CreatingCalls = append(env.CreatingCalls, "PrepareTransfers", "Transfer")
		env.Scenarios["cross-location"] = providertest.Scenario{Target: driver.Target{Volumes: []string{"vol-far"}}, Volumes: []string{"vol-far"},
			Destination: &driver.Destination{Account: ForensicAccount, Location: Location, Key: ForensicKey}}
	} else {
		env.Cannot[providertest.CanCrossLocation] = "memcloud's direct shape keeps evidence in the volume's location"
	}
	if h.cfg.NoBlocks {
		env.Cannot[providertest.CanDigest] = "configured without a block reader"
	}
	if h.cfg.NoLock {
		env.Cannot[providertest.CanLock] = "configured without a locker"
		env.LockMode = nil
	}
	return env
}

type inspector struct{ c *Cloud }

func (i inspector) Snapshots(side driver.Side) []providertest.SnapshotInfo {
	var out []providertest.SnapshotInfo
	for _, s := range i.c.Snapshots(side) {
		info := providertest.SnapshotInfo{ID: s.ID, Location: Location, SourceVolume: s.Volume, State: s.State, Locked: s.Locked, Case: s.Case}
		if side == driver.Forensic {
			info.KeyID = ForensicKey
		}
		out = append(out, info)
	}
	return out
}

func (i inspector) Temporaries() []string         { return i.c.Temporaries() }
func (i inspector) ImageSHA256(vol string) string { return i.c.ImageSHA256(vol) }

type faults struct{ c *Cloud }

func (f faults) LoseReplies(call string, n int) { f.c.LoseReplies(call, n) }
func (f faults) FailSnapshots(vols ...string)   { f.c.FailSnapshots(vols...) }
func (f faults) Clear()                         { f.c.ClearFaults() }

func TestConformanceTransferShape(t *testing.T) {
	t.Parallel()
	providertest.RunConformanceTests(t, harness{cfg: Config{Shape: Transfer, PollsToComplete: 2}})
}

func TestConformanceDirectShape(t *testing.T) {
	t.Parallel()
	providertest.RunConformanceTests(t, harness{cfg: Config{Shape: Direct}})
}

func TestConformanceWithoutBlocksOrLock(t *testing.T) {
	t.Parallel()
	providertest.RunConformanceTests(t, harness{cfg: Config{Shape: Direct, NoBlocks: true, NoLock: true}})
}

func (f faults) Calls() map[string]int { return f.c.Calls() }
