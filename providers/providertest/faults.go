package providertest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// testLostReplies loses the reply of every call that makes something, after the cloud did the work:
// once (the run retries, looks up by token what the lost call made, and succeeds), and on every attempt
// (the run may fail; a re-run without the fault finishes). Either way the end state has exactly one
// snapshot per volume on each side and nothing else. Each call is tried in the first scenario that
// makes it; a creating call no scenario makes is an error, not a skip.
func testLostReplies(t *testing.T, h Harness) {
	probe := h.New(t)
	if len(probe.CreatingCalls) == 0 {
		t.Fatal("the harness names no creating calls: the lost-reply tests need them")
	}
	reaches := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(probe.Scenarios)) {
		env := h.New(t)
		if _, err := Acquire(context.Background(), t, env, NewCase(t), scenario(t, env, name), nil); err != nil {
			t.Fatalf("scenario %s: %v", name, err)
		}
		for call, n := range env.Faults.Calls() {
			if _, ok := reaches[call]; !ok && n > 0 {
				reaches[call] = name
			}
		}
	}
	for _, call := range probe.CreatingCalls {
		sc, ok := reaches[call]
		if !ok {
			t.Errorf("no scenario makes the call %s: a lost reply of it is untested", call)
			continue
		}
		t.Run(call+"/once/"+sc, func(t *testing.T) {
			t.Parallel()
			env := h.New(t)
			s := scenario(t, env, sc)
			c := NewCase(t)
			env.Faults.LoseReplies(call, 1)
			res, err := Acquire(context.Background(), t, env, c, s, nil)
			if err != nil {
				t.Fatalf("one lost reply of %s: %v, want the run to retry and succeed", call, err)
			}
			CheckEndState(t, env, c, s, res)
		})
		t.Run(call+"/always/"+sc, func(t *testing.T) {
			t.Parallel()
			env := h.New(t)
			s := scenario(t, env, sc)
			c := NewCase(t)
			env.Faults.LoseReplies(call, 1000)
			_, _ = Acquire(context.Background(), t, env, c, s, nil) // it may succeed: what a lost call made is found by token
			env.Faults.Clear()
			res, err := Acquire(context.Background(), t, env, c, s, nil)
			if err != nil {
				t.Fatalf("the re-run after lost replies of %s: %v", call, err)
			}
			CheckEndState(t, env, c, s, res)
		})
	}
}

// testSnapshotsInError: a volume whose snapshot (or copy) ends in error fails, with code failed,
// while the other workload's volumes are acquired: a partial result. The snapshot in error is
// deleted and is not recorded as evidence. A re-run once the fault is gone acquires it.
func testSnapshotsInError(t *testing.T, h Harness) {
	env := h.New(t)
	sc := scenario(t, env, "two-instances")
	bad := sc.Volumes[0]
	env.Faults.FailSnapshots(bad)
	c := NewCase(t)
	res, err := Acquire(context.Background(), t, env, c, sc, nil)
	var partial *acquisition.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("error %v, want a partial result", err)
	}
	if partial.Failed != 1 || partial.Total != len(sc.Volumes) {
		t.Errorf("partial result %d of %d failed, want 1 of %d", partial.Failed, partial.Total, len(sc.Volumes))
	}
	for _, v := range res.Volumes {
		switch {
		case v.Volume.ID == bad && (v.Error == "" || v.Code != driver.CodeFailed || v.Recorded):
			t.Errorf("volume %s, whose snapshot ended in error: %+v, want failed and not recorded", bad, v)
		case v.Volume.ID != bad && (v.Error != "" || !v.Recorded):
			t.Errorf("volume %s: %+v, want acquired", v.Volume.ID, v)
		}
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		for _, s := range env.Inspect.Snapshots(side) {
			if s.State == string(driver.StateError) {
				t.Errorf("a snapshot in error is left on the %s side: %+v", side, s)
			}
		}
	}
	for _, l := range res.Left {
		if strings.HasPrefix(l.Note, "evidence") && l.Side == driver.Forensic {
			for _, s := range env.Inspect.Snapshots(driver.Forensic) {
				if s.ID == l.ID && s.SourceVolume == bad {
					t.Errorf("the failed volume's snapshot %s is listed as evidence", l.ID)
				}
			}
		}
	}
	if _, ok := RecordedEvidence(t, c.Dir)[bad]; ok {
		t.Errorf("volume %s has an evidence record", bad)
	}
	env.Faults.Clear()
	res, err = Acquire(context.Background(), t, env, c, sc, nil)
	if err != nil {
		t.Fatalf("the re-run without the fault: %v", err)
	}
	CheckEndState(t, env, c, sc, res)
}

// testSameCaseID: two case directories with the same case ID never record each other's resources.
// Case b is opened after case a made its snapshots; a lost reply makes b look its own up by token,
// where a's would be found if tokens derived from the case ID alone.
func testSameCaseID(t *testing.T, h Harness) {
	env := h.New(t)
	sc := scenario(t, env, "single-volume")
	a, b := NewCase(t), NewCase(t)
	b.signer, b.Verifier = a.signer, a.Verifier
	if _, err := Acquire(context.Background(), t, env, a, sc, nil); err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		for _, s := range env.Inspect.Snapshots(side) {
			before[s.ID] = true
		}
	}
	if len(env.CreatingCalls) > 0 {
		env.Faults.LoseReplies(env.CreatingCalls[0], 1)
	}
	if _, err := Acquire(context.Background(), t, env, b, sc, nil); err != nil {
		t.Fatal(err)
	}
	recs, err := custody.ReadRecords(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if p := r.Statement.Predicate.Provider; p != nil {
			for _, res := range p.Resources {
				if before[res.ID] {
					t.Errorf("case b's record %d (%s) names %s, made by case a", r.Seq, r.Statement.Predicate.Action, res.ID)
				}
			}
		}
	}
	for v, it := range RecordedEvidence(t, b.Dir) {
		if before[it.Snapshot] || before[it.SourceSnapshot] {
			t.Errorf("case b's evidence of %s is case a's snapshot %s", v, it.Snapshot)
		}
	}
}
