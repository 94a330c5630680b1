package gcp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// sourceLeftovers lists, through the API, the consistency-group resources alive in the source
// project: resource policies, instant snapshot groups, instant snapshots.
func sourceLeftovers(t *testing.T, d *Driver) []string {
	t.Helper()
	ctx := context.Background()
	c := d.sides[driver.Source]
	var out []string
	pols := c.policies.List(ctx, &computepb.ListResourcePoliciesRequest{Project: srcProject, Region: "us-central1"})
	for {
		p, err := pols.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "resource policy "+p.GetName())
	}
	groups := c.groups.List(ctx, &computepb.ListInstantSnapshotGroupsRequest{Project: srcProject, Zone: zone})
	for {
		g, err := groups.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "instant snapshot group "+g.GetName())
	}
	is := c.instants.List(ctx, &computepb.ListInstantSnapshotsRequest{Project: srcProject, Zone: zone})
	for {
		s, err := is.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "instant snapshot "+s.GetName())
	}
	return out
}

func crash(o *acquisition.Options) { o.Consistency = driver.CrashConsistent }

// TestCrashConsistent: asked for, an instance's disks are taken at one moment through an instant
// snapshot group; the evidence says crash-consistent, the records name what was written into the
// source project and its removal, and nothing of it is left. Lost replies of each call that writes
// into the source project change none of that.
func TestCrashConsistent(t *testing.T) {
	for _, lost := range []string{"", "compute.resourcePolicies.insert", "compute.disks.addResourcePolicies", "compute.instantSnapshotGroups.insert"} {
		t.Run("lost "+lost, func(t *testing.T) {
			e := startSim(t, scenario(t))
			d := newDriver(t, testConfig(e.url, e.keyFile))
			env := harness{}.envFor(d, e.sim)
			if lost != "" {
				env.Faults.LoseReplies(lost, 1)
			}
			sc := env.Scenarios["two-volume-instance"]
			c := providertest.NewCase(t)
			res, err := providertest.Acquire(context.Background(), t, env, c, sc, crash)
			if err != nil {
				t.Fatal(err)
			}
			providertest.CheckEndState(t, env, c, sc, res)
			for _, v := range res.Volumes {
				if v.Consistency != driver.CrashConsistent {
					t.Errorf("%s: %s", v.Volume.ID, v.Consistency)
				}
			}
			for _, s := range e.sim.Snapshots(forensicProject) {
				if s.SourceInstantSnapshot == "" {
					t.Errorf("snapshot %s was not taken from an instant snapshot", s.Name)
				}
			}
			if left := sourceLeftovers(t, d); len(left) > 0 {
				t.Errorf("left in the source project: %v", left)
			}
			text := caseText(t, c.Dir)
			for _, want := range []string{"instant-snapshot-group", "policy-attachment", "resource-policy", "instant snapshot group"} {
				if !strings.Contains(text, want) {
					t.Errorf("the case does not record %q", want)
				}
			}
		})
	}
}

// TestCrashConsistentFailureUndone: the group cannot be made (its operation fails for good): the
// acquisition fails naming it, and the policy and its attachments are removed from the source project.
func TestCrashConsistentFailureUndone(t *testing.T) {
	sc := scenario(t)
	sc.Faults = gcpsim.Faults{Rules: []gcpsim.FaultRule{{Kind: gcpsim.FaultOperationError, Methods: []string{"compute.instantSnapshotGroups.insert"},
		Rate: 1, Code: "INVALID_USAGE", Message: "compute.instantSnapshotGroups.insert refused by the test", Status: 400}}}
	env, e := envWith(t, sc, nil)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], crash)
	if err == nil || !strings.Contains(err.Error(), "compute.instantSnapshotGroups.insert refused by the test") {
		t.Fatalf("error %v: want the group's operation error", err)
	}
	if left := sourceLeftovers(t, env.Driver.(*Driver)); len(left) > 0 {
		t.Errorf("left in the source project: %v", left)
	}
	for _, disk := range e.sim.Disks(srcProject) {
		if len(disk.ResourcePolicies) > 0 {
			t.Errorf("disk %s keeps %v", disk.Name, disk.ResourcePolicies)
		}
	}
	verifies(t, c)
}

// noSourceDebris fails the test if the source project holds a consistency-group resource or a disk
// keeps a resource policy.
func noSourceDebris(t *testing.T, d *Driver, sim *gcpsim.Server) {
	t.Helper()
	if left := sourceLeftovers(t, d); len(left) > 0 {
		t.Errorf("left in the source project: %v", left)
	}
	for _, disk := range sim.Disks(srcProject) {
		if len(disk.ResourcePolicies) > 0 {
			t.Errorf("disk %s keeps %v", disk.Name, disk.ResourcePolicies)
		}
	}
}

// TestCrashConsistentSnapshotRefusedUndone: the forensic project's organisation policy refuses the
// snapshots from the instant snapshots (a 412 from snapshots.insert, after the policy, its
// attachments and the group were written): the acquisition fails naming the constraint, and nothing
// of the consistency group is left in the source project.
func TestCrashConsistentSnapshotRefusedUndone(t *testing.T) {
	sc := scenario(t)
	sc.Projects[1].OrgPolicy = &gcpsim.ScenarioOrgPolicy{StorageResourceUseRestrictions: &gcpsim.AllowedProjects{AllowedProjects: []string{"another-project"}}}
	env, e := envWith(t, sc, nil)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], crash)
	if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), storageConstraint) {
		t.Fatalf("error %v: want permission-denied naming %s", err, storageConstraint)
	}
	if env.Faults.Calls()["compute.instantSnapshotGroups.insert"] == 0 {
		t.Fatal("the group was never made: the refusal came before the stage under test")
	}
	noSourceDebris(t, env.Driver.(*Driver), e.sim)
	verifies(t, c)
}

// TestCrashConsistentCancelledUndone: a cancel while the snapshots are being made from the instant
// snapshots leaves nothing of the consistency group in the source project.
func TestCrashConsistentCancelledUndone(t *testing.T) {
	sim, err := gcpsim.New(scenario(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/projects/"+forensicProject+"/global/snapshots") {
			once.Do(cancel) // the run is cancelled while the first snapshot is being made
		}
		sim.ServeHTTP(w, r)
	}))
	sim.SetStorageURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	key, err := sim.KeyFile(responder, srv.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "responder.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, testConfig(srv.URL, path))
	env := harness{}.envFor(d, sim)
	c := providertest.NewCase(t)
	_, err = providertest.Acquire(ctx, t, env, c, env.Scenarios["two-volume-instance"], crash)
	if code := driver.CodeOf(err); code != driver.CodeCancelled {
		t.Fatalf("error %v (%s): want cancelled", err, code)
	}
	if sim.CallCounts()["compute.instantSnapshotGroups.insert"] == 0 {
		t.Fatal("the group was never made: the cancel came before the stage under test")
	}
	noSourceDebris(t, d, sim)
	verifies(t, c)
}

// TestCrashConsistentRetriesRunOutUndone: the group cannot be made because Compute Engine stays
// unavailable: the attempt keeps what it wrote for a retry, the engine retries until the step's retry
// deadline and then gives up, and nothing of the consistency group is left in the source project.
func TestCrashConsistentRetriesRunOutUndone(t *testing.T) {
	sc := scenario(t)
	sc.Faults = gcpsim.Faults{Rules: []gcpsim.FaultRule{{Kind: gcpsim.FaultServerError, Status: 503, Rate: 1,
		Methods: []string{"compute.instantSnapshotGroups.insert"}}}}
	env, e := envWith(t, sc, func(cfg *Config) { cfg.RetryMaxAttempts = 2 })
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], func(o *acquisition.Options) {
		crash(o)
		o.RetryDeadline, o.RetryBackoff = 300*time.Millisecond, 20*time.Millisecond
	})
	if code := driver.CodeOf(err); code != driver.CodeUnavailable {
		t.Fatalf("error %v (%s): want unavailable", err, code)
	}
	if n := env.Faults.Calls()["compute.instantSnapshotGroups.insert"]; n < 2 {
		t.Fatalf("the group's insert was tried %d times: the engine did not retry the attempt", n)
	}
	noSourceDebris(t, env.Driver.(*Driver), e.sim)
	verifies(t, c)
}

// TestCrashConsistentResumedAfterRemovalIsPerVolume: a run fails after the first disk's snapshot was
// made from the instant snapshot group, and the group is removed; the run that resumes it makes a
// new group, at a later moment, for the other disk. The evidence says per-volume, not
// crash-consistent, and nothing is left in the source project.
func TestCrashConsistentResumedAfterRemovalIsPerVolume(t *testing.T) {
	sim, err := gcpsim.New(scenario(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refuse, inserts := true, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/projects/"+forensicProject+"/global/snapshots") {
			mu.Lock()
			inserts++
			stop := refuse && inserts == 2
			mu.Unlock()
			if stop { // the second disk's snapshot is refused, for good
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":{"code":400,"message":"Invalid value for field 'resource.sourceInstantSnapshot'.","errors":[{"reason":"invalid","message":"Invalid value for field 'resource.sourceInstantSnapshot'."}]}}`)
				return
			}
		}
		sim.ServeHTTP(w, r)
	}))
	sim.SetStorageURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	key, err := sim.KeyFile(responder, srv.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "responder.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, testConfig(srv.URL, path))
	env := harness{}.envFor(d, sim)
	sc := env.Scenarios["two-volume-instance"]
	c := providertest.NewCase(t)
	if _, err := providertest.Acquire(context.Background(), t, env, c, sc, crash); err == nil {
		t.Fatal("the run whose second snapshot was refused succeeded")
	}
	if n := len(sim.Snapshots(forensicProject)); n != 1 {
		t.Fatalf("%d snapshots after the first run, want the first disk's only", n)
	}
	noSourceDebris(t, d, sim)
	mu.Lock()
	refuse = false
	mu.Unlock()
	res, err := providertest.Acquire(context.Background(), t, env, c, sc, crash)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Volumes {
		if v.Consistency != driver.PerVolume {
			t.Errorf("%s: %s, want per-volume: its snapshots are of two moments", v.Volume.ID, v.Consistency)
		}
	}
	noSourceDebris(t, d, sim)
	verifies(t, c)
}
