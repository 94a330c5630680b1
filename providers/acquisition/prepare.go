package acquisition

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// prepare runs the acquisition-level steps: who acts on each side, what the target is, whether the
// forensic side can take it, what is already exposed, and what the transfers will share.
func (r *run) prepare(ctx context.Context, res *Result) ([]driver.Volume, error) {
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		if err := r.identity(ctx, side); err != nil {
			return nil, err
		}
	}
	if err := r.checkPrincipals(); err != nil {
		return nil, err
	}
	vols, err := r.describe(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.checkVolumes(vols); err != nil {
		return nil, err
	}
	if err := r.preflight(ctx, vols); err != nil {
		return nil, err
	}
	if res.Findings, err = r.exposure(ctx, vols); err != nil {
		return nil, err
	}
	if r.caps.SnapshotSide == driver.Source {
		var pending []driver.Volume
		for _, v := range vols {
			if !r.transferred(v) {
				pending = append(pending, v)
			}
		}
		if len(pending) > 0 {
			if err := r.prepareTransfers(ctx, pending); err != nil {
				return nil, err
			}
		}
	}
	return vols, nil
}

func (r *run) identity(ctx context.Context, side driver.Side) error {
	s := step{id: r.prefix + "identity." + string(side), action: "identity", side: side, location: r.locationOf(side), readOnly: true}
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		p, err := r.d.Identity(ctx, side)
		if err != nil {
			return outcome{}, err
		}
		r.principals[side] = p // so that the result record names the principal
		return outcome{details: map[string]any{"principal": asDetail(p)}, note: fmt.Sprintf("%s side acts as %s", side, p.ID)}, nil
	})
	return err
}

// checkPrincipals refuses credentials that would put the evidence within the attacker's reach, or
// that act in other accounts than the acquisition's earlier runs did (their tokens would find nothing,
// and everything would be made twice).
func (r *run) checkPrincipals() error {
	src, fx := r.principals[driver.Source], r.principals[driver.Forensic]
	invalid := func(format string, args ...any) error {
		return &driver.Error{Code: driver.CodeInvalid, Op: "preflight", Err: fmt.Errorf(format, args...)}
	}
	switch {
	case src.Account == r.opts.Destination.Account || src.Account == fx.Account:
		return invalid("the forensic account is %s, the compromised account itself: evidence must leave the attacker's reach", src.Account)
	case fx.Account != r.opts.Destination.Account:
		return invalid("the forensic credentials act in account %s, not in the forensic account %s given", fx.Account, r.opts.Destination.Account)
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		before, ok := r.firstPrincipal(side)
		if ok && before.Account != r.principals[side].Account {
			return invalid("the %s credentials act in account %s, but acquisition %d began in account %s: use the same accounts to continue it", side, r.principals[side].Account, r.n, before.Account)
		}
	}
	return nil
}

// firstPrincipal is the principal an earlier run of the acquisition recorded for a side.
func (r *run) firstPrincipal(side driver.Side) (driver.Principal, bool) {
	details, ok := r.journal.firstDone(r.prefix + "identity." + string(side))
	if !ok {
		return driver.Principal{}, false
	}
	var p driver.Principal
	return p, detail(details, "principal", &p) == nil
}

// describe captures the target's configuration as artifacts, once per acquisition: a resumed run
// acquires what the first run found.
func (r *run) describe(ctx context.Context) ([]driver.Volume, error) {
	id := r.prefix + "describe"
	if details, ok := r.journal.done(id); ok {
		var vols []driver.Volume
		if err := detail(details, "volumes", &vols); err != nil {
			return nil, err
		}
		return vols, nil
	}
	s := step{id: id, action: "describe", side: driver.Source, location: r.opts.Target.Location, readOnly: true}
	for _, w := range r.opts.Target.Workloads {
		s.resources = append(s.resources, custody.Resource{Kind: "instance", ID: w})
	}
	for _, v := range r.opts.Target.Volumes {
		s.resources = append(s.resources, custody.Resource{Kind: "volume", ID: v})
	}
	var vols []driver.Volume
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		workloads, err := r.d.Describe(ctx, r.opts.Target)
		if err != nil {
			return outcome{}, err
		}
		var out outcome
		var artifacts []driver.Artifact
		for _, w := range workloads {
			artifacts = append(artifacts, w.Artifacts...)
		}
		if out.subjects, err = r.addArtifacts(artifacts); err != nil {
			return outcome{}, err
		}
		seen := map[string]bool{}
		for _, w := range workloads {
			for _, v := range w.Volumes {
				if !seen[v.ID] { // a volume named alone and attached to a named instance is acquired once
					seen[v.ID] = true
					vols = append(vols, v)
				}
			}
		}
		if len(vols) == 0 {
			return outcome{}, &driver.Error{Code: driver.CodeNotFound, Op: "describe", Err: errors.New("the target has no volumes")}
		}
		out.details = map[string]any{"volumes": asDetail(vols)}
		out.note = many(len(workloads), "workload") + ", " + many(len(vols), "volume")
		return out, nil
	})
	return vols, err
}

// checkVolumes refuses what the driver cannot do with these volumes, before anything is made.
func (r *run) checkVolumes(vols []driver.Volume) error {
	loc := r.opts.Destination.Location
	if loc == "" || r.caps.CrossLocation {
		return nil
	}
	for _, v := range vols {
		if v.Location != loc {
			return &driver.Error{Code: driver.CodeInvalid, Op: "preflight", Resource: v.ID,
				Err: fmt.Errorf("%s cannot place evidence in %s, away from volume %s in %s", r.d.Cloud(), loc, v.ID, v.Location)}
		}
	}
	return nil
}

// artifactWriters is how many artifacts are written at once: each is synced to disk on its own, and a
// fleet's configuration is hundreds of them.
const artifactWriters = 8

// addArtifacts stores captured artifacts, several at once, and returns their subjects in order.
func (r *run) addArtifacts(as []driver.Artifact) ([]custody.Subject, error) {
	subs := make([]custody.Subject, len(as))
	var g errgroup.Group
	g.SetLimit(artifactWriters)
	names := map[string]bool{}
	for _, a := range as {
		if names[a.Name] {
			g.SetLimit(1) // a name given twice is settled in order: the second finds the first
			break
		}
		names[a.Name] = true
	}
	for i, a := range as {
		g.Go(func() error {
			var err error
			subs[i], err = r.addArtifact(a)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return subs, nil
}

// addArtifact stores a captured artifact. A capture resumed after a crash may find the name taken by
// what the interrupted run captured, and the workload may have changed since: both captures are kept,
// the new one under its name with its digest appended.
func (r *run) addArtifact(a driver.Artifact) (custody.Subject, error) {
	sub, err := r.opts.Ledger.AddArtifact(a.Name, a.Data, a.MediaType)
	if errors.Is(err, custody.ErrArtifactExists) {
		sum := sha256.Sum256(a.Data)
		return r.opts.Ledger.AddArtifact(fmt.Sprintf("%s.%x", a.Name, sum[:6]), a.Data, a.MediaType)
	}
	return sub, err
}

// preflight asks the driver to check, with read-only calls, what the cloud would otherwise refuse only
// after the snapshots exist: the forensic key, the forensic location.
func (r *run) preflight(ctx context.Context, vols []driver.Volume) error {
	if r.f.Preflight == nil {
		return nil
	}
	s := step{id: r.prefix + "preflight", action: "preflight", side: driver.Forensic, location: r.locationOf(driver.Forensic), readOnly: true}
	if r.opts.Destination.Key != "" {
		s.resources = []custody.Resource{{Kind: "key", ID: r.opts.Destination.Key}}
	}
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		err := r.f.Preflight.Preflight(ctx, driver.Preflight{Volumes: vols, Destination: r.opts.Destination, Lock: r.opts.Lock,
			Consistency: consistencyFor(r.caps, r.opts.Consistency), Digest: r.opts.Digest == DigestCompute})
		return outcome{note: "the forensic side can take the evidence"}, err
	})
	return err
}

// exposure records, once per acquisition, every existing snapshot or image of the target volumes
// that someone other than the forensic side can use: the attacker may already have taken a copy.
func (r *run) exposure(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	if r.f.Exposure == nil {
		return nil, nil
	}
	id := r.prefix + "exposure"
	if details, ok := r.journal.done(id); ok {
		var f []driver.Finding
		err := detail(details, "findings", &f)
		return f, err
	}
	s := step{id: id, action: "exposure.check", side: driver.Source, location: r.opts.Target.Location, readOnly: true}
	var findings []driver.Finding
	_, err := r.runStep(ctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		var err error
		findings, err = r.f.Exposure.Exposure(ctx, vols)
		if err != nil {
			return outcome{}, err
		}
		for _, f := range findings {
			r.event(Event{Kind: EventFinding, Volume: f.VolumeID, Resource: f.Resource, Message: f.Detail})
		}
		return outcome{details: map[string]any{"findings": asDetail(findings)}, note: findingsNote(findings)}, nil
	})
	return findings, err
}

// findingsNote says what the exposure check found, volumes left out of the acquisition first.
func findingsNote(findings []driver.Finding) string {
	missed := 0
	for _, f := range findings {
		if f.NotAcquired() {
			missed++
		}
	}
	var parts []string
	if missed > 0 {
		parts = append(parts, fmt.Sprintf("FINDING: %s of the workloads NOT acquired: no snapshot can take them", many(missed, "volume")))
	}
	if shared := len(findings) - missed; shared > 0 {
		parts = append(parts, fmt.Sprintf("FINDING: %s or images of the target volumes can be used by others", many(shared, "snapshot")))
	} else {
		parts = append(parts, "no snapshot or image of the target volumes can be used by others")
	}
	return strings.Join(parts, "; ")
}

// prepareTransfers makes what the transfers share, once per generation: a generation whose resources
// were released (at the end of a run that stopped) is not reused; the next run makes the next one.
func (r *run) prepareTransfers(ctx context.Context, vols []driver.Volume) error {
	gen := 1
	for r.journal.attempted(r.prepStep(gen) + ".released") {
		gen++
	}
	id := r.prepStep(gen)
	r.prepGen = id
	if details, ok := r.journal.done(id); ok {
		return detail(details, "prepared", &r.prepared)
	}
	tok := r.tokens.of(id)
	s := step{id: id, action: "transfer.prepare", side: driver.Source, location: r.opts.Target.Location, token: tok, retry: true}
	_, err := r.runStep(ctx, s, func(ctx context.Context, retry bool) (outcome, error) {
		made, err := r.f.Transfer.PrepareTransfers(ctx, driver.PrepareRequest{Volumes: vols, Token: tok, Labels: r.labels(nil, driver.RoleTemporary, tok), Retry: retry})
		r.prepared = made
		out := outcome{details: map[string]any{"prepared": asDetail(made)}, note: many(len(made), "resource") + " shared by the transfers"}
		for _, m := range made {
			out.resources = append(out.resources, resourceOf(m))
		}
		return out, err
	})
	return err
}

// transferred reports whether a volume's transfer is behind it: its evidence is recorded, or an
// attempt's forensic copy completed.
func (r *run) transferred(v driver.Volume) bool {
	if _, ok := r.journal.done(r.prefix + v.ID + "/evidence"); ok {
		return true
	}
	for a := (attempt{prefix: r.prefix, v: v, n: 1}); r.journal.attempted(a.phase(1)); a = a.next() {
		if _, ok := r.journal.done(a.id("copy.wait")); ok {
			return true
		}
	}
	return false
}

func (r *run) prepStep(gen int) string { return fmt.Sprintf("%stransfer.prepare.%d", r.prefix, gen) }

// releasePrepared removes what the transfers shared, at the end of every run: a resumed run prepares
// again. A preparation whose outcome is unknown is looked up first, so that nothing it made is missed.
func (r *run) releasePrepared(ctx context.Context) {
	if r.f.Transfer == nil {
		return
	}
	if r.prepGen == "" {
		// This run prepared nothing (every transfer was behind it), but an earlier one may have, and
		// stopped before releasing it.
		gen := 1
		for r.journal.attempted(r.prepStep(gen) + ".released") {
			gen++
		}
		r.prepGen = r.prepStep(gen)
		if details, ok := r.journal.done(r.prepGen); ok {
			_ = detail(details, "prepared", &r.prepared)
		}
	}
	if !r.journal.attempted(r.prepGen) {
		return
	}
	made := slices.Clone(r.prepared)
	if r.journal.unsettled(r.prepGen) {
		tok := r.tokens.of(r.prepGen)
		found, err := r.f.Transfer.PrepareTransfers(ctx, driver.PrepareRequest{Token: tok, Retry: true, FindOnly: true})
		if err != nil {
			r.leave(Leftover{Side: driver.Source, Location: r.opts.Target.Location, Kind: "unknown", ID: tok, Note: "what the transfers' preparation made could not be looked up: " + err.Error()})
		}
		made = mergeResources(made, found)
	}
	if err := r.removeAll(ctx, r.prepGen, made); err == nil {
		s := step{id: r.prepGen + ".released", action: "transfer.release", side: driver.Source, location: r.opts.Target.Location, readOnly: true}
		_, _ = r.runStep(ctx, s, func(context.Context, bool) (outcome, error) {
			return outcome{note: many(len(made), "resource") + " the transfers shared, removed"}, nil
		})
	}
}
