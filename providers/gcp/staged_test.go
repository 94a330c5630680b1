package gcp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// operator is the source-side principal of the staged path: it may act on the source disks, which
// the forensic principal (responder) may not.
const operator = "operator@acme-web-prod.iam.gserviceaccount.com"

// stagedScenario is the fixture with the responder holding nothing in the source project, and the
// source project's own operator account holding what the source side needs there.
func stagedScenario(t testing.TB) *gcpsim.Scenario {
	sc := scenario(t)
	src := &sc.Projects[0]
	src.ServiceAccounts = append(src.ServiceAccounts, gcpsim.ScenarioServiceAccount{Email: operator})
	src.IAM = []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + operator, Roles: []string{"roles/compute.viewer", "roles/compute.storageAdmin"}}}
	return sc
}

// startStaged starts a simulator of sc and a staged driver: the operator's key for the source side,
// the responder's for the forensic side. The simEnv's keyFile stays the responder's; the operator's
// is cfg.CredentialsFile.
func startStaged(t testing.TB, sc *gcpsim.Scenario, tune func(*Config)) (*Driver, simEnv) {
	t.Helper()
	e := startSim(t, sc)
	key, err := e.sim.KeyFile(operator, e.url+"/token")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "operator.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := stagedConfig(e.url, path, e.keyFile)
	if tune != nil {
		tune(&cfg)
	}
	return newDriver(t, cfg), e
}

func stagedConfig(url, operatorKey, responderKey string) Config {
	cfg := testConfig(url, operatorKey)
	cfg.ForensicCredentialsFile, cfg.Staged = responderKey, true
	return cfg
}

// stagedHarness runs the conformance suite on the staged path.
type stagedHarness struct{ faults gcpsim.Faults }

func (h stagedHarness) New(t *testing.T) *providertest.Env {
	sc := stagedScenario(t)
	sc.Faults = h.faults
	d, e := startStaged(t, sc, nil)
	return stagedEnv(d, e.sim)
}

func stagedEnv(d *Driver, sim *gcpsim.Server) *providertest.Env {
	env := harness{}.envFor(d, sim)
	env.Inspect = stagedInspector{inspector{sim}}
	return env
}

// stagedInspector: the evidence is made from a disk of the forensic project, so its source volume is
// read from its label; grants on source snapshots are temporaries.
type stagedInspector struct{ inspector }

func (i stagedInspector) Snapshots(side driver.Side) []providertest.SnapshotInfo {
	out := i.inspector.Snapshots(side)
	if side != driver.Forensic {
		return out
	}
	byLabel := map[string]string{}
	for name := range fixtureDisks {
		byLabel[labelValue(vol(name))] = vol(name)
	}
	for k, s := range i.sim.Snapshots(forensicProject) {
		if v, ok := byLabel[s.Labels[labelPrefix+driver.LabelSourceVolume]]; ok && strings.Contains(s.SourceDisk, "/projects/"+forensicProject+"/") {
			out[k].SourceVolume = v
		}
	}
	return out
}

func (i stagedInspector) Temporaries() []string {
	out := i.inspector.Temporaries()
	for _, s := range i.sim.Snapshots(srcProject) {
		for role, members := range s.IAM {
			for _, m := range members {
				out = append(out, "grant of "+role+" to "+m+" on source snapshot "+s.Name)
			}
		}
	}
	return out
}

func TestConformanceStaged(t *testing.T) {
	providertest.RunConformanceTests(t, stagedHarness{})
}

// TestStagedForensicNeverActsOnTheSource: with a forensic principal that holds nothing in the source
// project, the staged path acquires an instance; the evidence is the disks' content, the source
// snapshots are deleted once recorded when asked, and the grants and disks it made are gone.
func TestStagedForensicNeverActsOnTheSource(t *testing.T) {
	d, e := startStaged(t, stagedScenario(t), nil)
	env := stagedEnv(d, e.sim)
	sc := env.Scenarios["two-volume-instance"]
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, sc, func(o *acquisition.Options) { o.DeleteSourceSnapshots = true })
	if err != nil {
		t.Fatal(err)
	}
	if s := e.sim.Snapshots(srcProject); len(s) != 0 {
		t.Errorf("source snapshots left after their copies were recorded: %+v", s)
	}
	if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
		t.Errorf("temporaries alive: %v", tmp)
	}
	for _, v := range res.Volumes {
		if v.Error != "" || !v.Recorded || v.Digest == nil || v.Digest.ImageSHA256 != images.sha256(lastSegment(v.Volume.ID)) {
			t.Errorf("volume %s: %+v", v.Volume.ID, v)
		}
	}
	recs, err := custody.ReadRecords(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var grants, removed int
	for _, r := range recs {
		if r.Statement.Predicate.Provider == nil || r.Statement.Predicate.Phase != custody.PhaseResult {
			continue
		}
		for _, res := range r.Statement.Predicate.Provider.Resources {
			if res.Kind == kindGrant {
				switch {
				case strings.HasPrefix(r.Statement.Predicate.Action, "transfer"):
					grants++
				default:
					removed++
				}
			}
		}
	}
	if grants == 0 || removed == 0 {
		t.Errorf("records name %d grants made and %d removals of them: want both", grants, removed)
	}
	verifies(t, c)
}

// TestStagedFailureUndone: the forensic side's disk from a source snapshot fails; the grant and the
// disk are removed, the source snapshot is kept and listed, and the failure is recorded.
func TestStagedFailureUndone(t *testing.T) {
	sc := stagedScenario(t)
	sc.Faults = gcpsim.Faults{Rules: []gcpsim.FaultRule{{Kind: gcpsim.FaultOperationError, Methods: []string{"compute.disks.insert"}, Rate: 1,
		Code: "INTERNAL_ERROR", Message: "Disk creation failed."}}}
	d, e := startStaged(t, sc, nil)
	env := stagedEnv(d, e.sim)
	c := providertest.NewCase(t)
	res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], func(o *acquisition.Options) {
		o.DeleteSourceSnapshots, o.Digest = true, acquisition.DigestDefer
	})
	if err == nil {
		t.Fatal("the acquisition succeeded with every disk creation failing")
	}
	if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
		t.Errorf("temporaries alive after the failure: %v", tmp)
	}
	if s := e.sim.Snapshots(forensicProject); len(s) != 0 {
		t.Errorf("forensic snapshots after the failure: %+v", s)
	}
	src := e.sim.Snapshots(srcProject)
	if len(src) != 1 {
		t.Fatalf("source snapshots after the failure: %+v, want the one kept", src)
	}
	listed := false
	for _, l := range res.Left {
		listed = listed || (l.Side == driver.Source && l.ID == src[0].Name)
	}
	if !listed {
		t.Errorf("the kept source snapshot %s is not listed among what is left: %+v", src[0].Name, res.Left)
	}
	verifies(t, c)
	if !failureRecorded(t, c.Dir, "failed", "Disk creation failed") {
		t.Error("no failed record says why")
	}
}

// TestStagedPermissionsCheckedAtPreflight: a permission the staged path needs of either side, missing,
// is named before anything is made.
func TestStagedPermissionsCheckedAtPreflight(t *testing.T) {
	for _, tc := range []struct {
		side    int
		missing string
	}{{0, "compute.snapshots.setIamPolicy"}, {0, "compute.snapshots.create"}, {1, "compute.disks.create"}, {1, "compute.disks.createSnapshot"}} {
		t.Run(tc.missing, func(t *testing.T) {
			sc := stagedScenario(t)
			for i, side := range []driver.Side{driver.Source, driver.Forensic} {
				member := "serviceAccount:" + responder
				if side == driver.Source {
					member = "serviceAccount:" + operator
				}
				var allow []string
				for _, p := range Permissions(side) {
					if p != tc.missing || i != tc.side {
						allow = append(allow, p)
					}
				}
				sc.Projects[i].IAM = []gcpsim.ScenarioBinding{{Member: member, Permissions: allow}}
			}
			d, e := startStaged(t, sc, nil)
			env := stagedEnv(d, e.sim)
			c := providertest.NewCase(t)
			_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
			if driver.CodeOf(err) != driver.CodePermissionDenied || !strings.Contains(err.Error(), tc.missing) {
				t.Fatalf("error %v: want permission-denied naming %s", err, tc.missing)
			}
			if s := append(e.sim.Snapshots(srcProject), e.sim.Snapshots(forensicProject)...); len(s) > 0 {
				t.Errorf("snapshots were made: %+v", s)
			}
		})
	}
}

// TestStagedLeastPrivilege: the permissions `acquire iam gcp` lists, granted as custom roles to each
// side's own principal and nothing else, are enough for the staged path, crash consistency included.
func TestStagedLeastPrivilege(t *testing.T) {
	for _, crashToo := range []bool{false, true} {
		sc := stagedScenario(t)
		sc.Projects[0].IAM = []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + operator, Permissions: Permissions(driver.Source)}}
		sc.Projects[1].IAM = []gcpsim.ScenarioBinding{{Member: "serviceAccount:" + responder, Permissions: Permissions(driver.Forensic)}}
		d, e := startStaged(t, sc, nil)
		env := stagedEnv(d, e.sim)
		tune := func(*acquisition.Options) {}
		if crashToo {
			tune = crash
		}
		c := providertest.NewCase(t)
		res, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["two-volume-instance"], tune)
		if err != nil {
			t.Fatalf("crash %v: %v", crashToo, err)
		}
		providertest.CheckEndState(t, env, c, env.Scenarios["two-volume-instance"], res)
	}
}

// stagedKillHarness kills staged acquisitions, as killHarness does direct ones.
type stagedKillHarness struct{ killHarness }

func (h stagedKillHarness) New(t *testing.T) *providertest.Env {
	sc := stagedScenario(t)
	sc.SnapshotBytesPerSecond = 6 << 20
	d, e := startStaged(t, sc, nil)
	env := stagedEnv(d, e.sim)
	env.HelperEnv = []string{"ACQUIRE_KILL_ENDPOINT=" + e.url, "ACQUIRE_KILL_CREDENTIALS=" + d.cfg.CredentialsFile,
		"ACQUIRE_KILL_FORENSIC_CREDENTIALS=" + e.keyFile}
	return env
}

// TestKilledStagedAcquisition: SIGKILL at every step boundary of the staged path, each run resuming
// the last, ends as an uninterrupted run does: no grant, no intermediate disk left.
func TestKilledStagedAcquisition(t *testing.T) {
	providertest.RunKillTests(t, stagedKillHarness{})
}
