package acquisition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// step describes one unit of work for the custody record: what it is, where, on what.
type step struct {
	id        string // stable within a case: "a1/vol-1/snapshot.wait", "a1/describe"
	action    string // the record's action: "snapshot.create", "transfer", ...
	side      driver.Side
	location  string
	volume    string
	resources []custody.Resource
	token     string // for steps that make something: how a later attempt finds it
	readOnly  bool   // a wait or a check: one result record, no intent
	retry     bool   // transient failures are retried here (create calls the SDK does not retry)
}

// outcome is what a step's work returns for its result record.
type outcome struct {
	details      map[string]any
	resources    []custody.Resource
	subjects     []custody.Subject
	providerTime time.Time
	note         string
}

// runStep writes the step's intent, does the work and writes the result, ok or failed, with the
// provider's request IDs. The work is told whether an earlier attempt's outcome is unknown (a run that
// stopped with the step in flight, a failed attempt, a lost reply): a creating step then looks up by
// its token what that attempt may have made before making it again. Throttling and unavailability
// are retried, when the step allows it, until the step's retry deadline, with backoff and jitter and
// no sooner than the cloud's Retry-After; every attempt waits for the pace its side and action share
// with the run's other workers. The retries are counted in the result record. It returns the work's
// error, wrapped once with its code.
func (r *run) runStep(ctx context.Context, s step, work func(ctx context.Context, retry bool) (outcome, error)) (outcome, error) {
	retry := r.journal.unsettled(s.id)
	r.event(Event{Kind: EventStepStart, Step: s.id, Volume: s.volume})
	if !s.readOnly {
		if err := r.record(ctx, s, custody.PhaseIntent, outcome{}, nil, nil); err != nil {
			return outcome{}, err
		}
	}
	log := &driver.CallLog{}
	var (
		out     outcome
		err     error
		retries = map[driver.Code]int{}
	)
	pace := r.pace.Get(string(s.side) + "/" + s.action)
	deadline := r.opts.Now().Add(r.opts.RetryDeadline)
	for attempt := 1; ; attempt++ {
		if perr := pace.Wait(ctx); perr != nil {
			err = driver.Wrap(r.d, s.action, firstResource(s), perr)
			break
		}
		out, err = work(driver.WithCallLog(ctx, log), retry)
		err = driver.Wrap(r.d, s.action, firstResource(s), err)
		code := driver.CodeOf(err)
		pace.Done(code == driver.CodeThrottled)
		if err == nil || !s.retry || !code.Retryable() || ctx.Err() != nil {
			break
		}
		wait := backoff(r.opts.RetryBackoff, attempt)
		if after, ok := driver.RetryAfter(err); ok {
			wait = max(wait, after)
		}
		if r.opts.Now().Add(wait).After(deadline) {
			err = fmt.Errorf("still %s after %d attempts in %s, the step's retry deadline: %w", code, attempt, r.opts.RetryDeadline, err)
			break
		}
		retry = true
		retries[code]++
		r.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "retrying", slog.String("step", s.id), slog.String("code", string(code)),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("error", err))
		r.event(Event{Kind: EventRetry, Step: s.id, Volume: s.volume, Message: fmt.Sprintf("%s, attempt %d", code, attempt+1), Code: code, Done: int64(attempt)})
		if serr := sleep(ctx, wait); serr != nil {
			err = driver.Wrap(r.d, s.action, firstResource(s), serr)
			break
		}
	}
	if len(retries) > 0 {
		if out.details == nil {
			out.details = map[string]any{}
		}
		n := 0
		counts := map[string]any{}
		for c, k := range retries {
			counts[string(c)] = k
			n += k
		}
		out.details["retries"] = map[string]any{"total": n, "byCode": counts}
	}
	// The result is written even when the run was cancelled: the journal must say how the step ended.
	if rerr := r.record(context.WithoutCancel(ctx), s, custody.PhaseResult, out, err, log); rerr != nil {
		return out, errors.Join(err, rerr)
	}
	if err != nil {
		r.opts.Logger.LogAttrs(ctx, slog.LevelError, "step failed", slog.String("step", s.id), slog.String("code", string(driver.CodeOf(err))), slog.Any("error", err))
		r.event(Event{Kind: EventStepError, Step: s.id, Volume: s.volume, Message: err.Error(), Code: driver.CodeOf(err)})
		return out, err
	}
	r.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "step done", slog.String("step", s.id), slog.String("note", out.note))
	r.event(Event{Kind: EventStepDone, Step: s.id, Volume: s.volume, Message: out.note})
	return out, nil
}

func (r *run) record(ctx context.Context, s step, phase string, out outcome, err error, log *driver.CallLog) error {
	p := r.principals[s.side]
	e := custody.Entry{
		Action:    s.action,
		Phase:     phase,
		Step:      s.id,
		Token:     s.token,
		Principal: p.ID,
		Provider: &custody.Provider{
			Cloud:     r.d.Cloud(),
			Account:   p.Account,
			Region:    s.location,
			Resources: append(append([]custody.Resource(nil), s.resources...), out.resources...),
		},
		Subjects:     out.subjects,
		Details:      out.details,
		ProviderTime: out.providerTime,
		Note:         out.note,
	}
	if log != nil {
		e.Provider.RequestIDs = log.RequestIDs()
	}
	if err != nil {
		status := custody.StatusFailed
		if c := driver.CodeOf(err); c == driver.CodeCancelled || c == driver.CodeTimeout {
			status = custody.StatusAborted
		}
		e.Result = custody.Result{Status: status, Code: string(driver.CodeOf(err)), Message: err.Error()}
	}
	rec, aerr := r.opts.Ledger.Append(ctx, e)
	if aerr == nil {
		r.journal.note(rec.Statement.Predicate)
	}
	return aerr
}

func firstResource(s step) string {
	if len(s.resources) > 0 {
		return s.resources[0].ID
	}
	return s.volume
}

// resourceOf is a driver resource as a custody record names it.
func resourceOf(res driver.Resource) custody.Resource {
	return custody.Resource{Kind: res.Kind, ID: res.ID}
}

// backoff is exponential with jitter, capped at half a minute.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 6)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
