package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// acquireOptions is the flag group every `acquire <cloud>` command shares: the case, what to ask of
// the engine, and how long to try.
type acquireOptions struct {
	sign           signingOptions
	caseDir        string
	caseID         string
	lockMode       string
	lockDays       int
	lockCoolOff    int
	consistency    string
	digest         string
	newAcquisition bool
	timeout        time.Duration
	poll           time.Duration
	dryRun         bool
	logFile        string
	verbose        bool
}

func (o *acquireOptions) addFlags(cmd *cobra.Command, lockHelp string) {
	f := cmd.Flags()
	o.sign.addFlags(cmd)
	f.StringVar(&o.caseDir, "case", "", "the case directory: created if new, continued if it exists (required, except with --dry-run)")
	f.StringVar(&o.caseID, "case-id", "", "the case identifier, for a new case (default: the directory's name)")
	f.StringVar(&o.lockMode, "lock", "", lockHelp)
	f.IntVar(&o.lockDays, "lock-days", 30, "lock duration in days, with --lock")
	f.StringVar(&o.consistency, "consistency", "", "crash-consistent (all volumes of an instance at one point in time) or per-volume (default: crash-consistent where the cloud does it without writing to the source account)")
	f.StringVar(&o.digest, "digest", "compute", "compute the evidence's content digests during the acquisition, or defer them (recorded as deferred)")
	f.BoolVar(&o.newAcquisition, "new-acquisition", false, "start another acquisition in a case that holds one with other arguments")
	f.DurationVar(&o.timeout, "timeout", 6*time.Hour, "give up after this long (the cleanup still runs)")
	f.DurationVar(&o.poll, "poll-interval", 2*time.Second, "first wait between snapshot status checks (they slow down to 30s while nothing changes)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and the permissions it needs; change nothing")
	f.StringVar(&o.logFile, "log-file", "", "write a detailed log (every call, retry and error in full, JSON lines) to this file")
	f.BoolVar(&o.verbose, "verbose", false, "log the detail to standard error too")
}

// logger is the operational log the flags ask for, silent by default; close flushes it.
func (o *acquireOptions) logger(a *app) (*slog.Logger, func(), error) {
	var handlers []slog.Handler
	closeLog := func() {}
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, nil, usageErrorf(fmt.Errorf("--log-file: %w", err))
		}
		handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
		closeLog = func() { f.Close() }
	}
	if o.verbose {
		handlers = append(handlers, slog.NewTextHandler(a.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	switch len(handlers) {
	case 0:
		return slog.New(slog.DiscardHandler), closeLog, nil
	case 1:
		return slog.New(handlers[0]), closeLog, nil
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closeLog, nil
}

func (o *acquireOptions) check() error {
	switch {
	case !o.dryRun && o.caseDir == "":
		return errors.New("--case is required: the case directory")
	case o.consistency != "" && o.consistency != string(driver.CrashConsistent) && o.consistency != string(driver.PerVolume):
		return fmt.Errorf("--consistency %q: use crash-consistent or per-volume", o.consistency)
	case o.digest != string(acquisition.DigestCompute) && o.digest != string(acquisition.DigestDefer):
		return fmt.Errorf("--digest %q: use compute or defer", o.digest)
	case o.lockMode == "" && o.lockCoolOff != 0:
		return errors.New("--lock-cool-off-hours goes with --lock compliance")
	}
	return nil
}

// engineOptions are the engine's options for the flags; the cloud's command fills in the target.
func (o *acquireOptions) engineOptions(t driver.Target, dest driver.Destination) acquisition.Options {
	opts := acquisition.Options{Target: t, Destination: dest, Consistency: driver.Consistency(o.consistency),
		Digest: acquisition.DigestMode(o.digest), NewAcquisition: o.newAcquisition, PollInterval: o.poll}
	if o.lockMode != "" {
		opts.Lock = &driver.LockRequest{Mode: o.lockMode, Days: o.lockDays, CoolOffHours: o.lockCoolOff}
	}
	return opts
}

// acquire runs an acquisition with a driver: the dry run's plan, or the real thing in the case, with
// progress, the result and the exit code.
func (a *app) acquire(ctx context.Context, o *acquireOptions, d driver.Driver, opts acquisition.Options, permissions func(driver.Side) [][2]string) error {
	if o.dryRun {
		return a.dryRun(ctx, d, opts, permissions)
	}
	ledger, err := o.openCase(ctx, a)
	if err != nil {
		return err
	}
	defer ledger.Close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	events, done := a.progress()
	defer done()
	opts.Ledger, opts.Progress = ledger, events
	res, err := acquisition.New(d).Run(ctx, opts)
	done()
	if res != nil {
		a.printAcquisition(ledger, res)
	}
	if c := driver.CodeOf(err); (c == driver.CodeCancelled || c == driver.CodeTimeout) && res != nil && !a.json() {
		return a.cancelled(c, res)
	}
	return acquisitionError(err)
}

// cancelled says once that the acquisition stopped, why, and how to continue it.
func (a *app) cancelled(c driver.Code, res *acquisition.Result) error {
	why := "You cancelled the acquisition"
	if c == driver.CodeTimeout {
		why = "The acquisition ran out of time (--timeout)"
	}
	a.printf("\n%s. What it had made for its own use was removed, and the case records where it stopped; what is left is listed above.\n", why)
	a.printf("To continue where it stopped, run the same command again:\n  %s\n", commandLine(a.args))
	return &exitError{code: ExitCancelled, err: errors.New(strings.ToLower(why[:1]) + why[1:]), reported: true}
}

// commandLine is acquire's command line as a shell would take it back.
func commandLine(args []string) string {
	parts := []string{"acquire"}
	for _, arg := range args {
		if arg == "" || strings.ContainsAny(arg, " \t\n'\"\\$`*?[]{}()<>|&;!#~") {
			arg = "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
		}
		parts = append(parts, arg)
	}
	return strings.Join(parts, " ")
}

// openCase continues the case in --case, or creates it.
func (o *acquireOptions) openCase(ctx context.Context, a *app) (*custody.Ledger, error) {
	opts, err := o.sign.ledgerOptions(ctx, a)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.caseDir, custody.PublicKeyFile)); err == nil {
		l, err := custody.Open(ctx, o.caseDir, opts)
		if errors.Is(err, custody.ErrTamperedHistory) {
			return nil, withCode(ExitVerifyFailed, err)
		}
		return l, err
	}
	id := o.caseID
	if id == "" {
		id = filepath.Base(filepath.Clean(o.caseDir))
	}
	if err := custody.ValidCaseID(id); err != nil {
		return nil, usageErrorf(err)
	}
	return custody.Create(ctx, o.caseDir, id, opts)
}

// acquisitionError gives an engine error its exit code.
func acquisitionError(err error) error {
	if err == nil {
		return nil
	}
	var partial *acquisition.PartialError
	if errors.As(err, &partial) {
		return withCode(ExitPartial, err)
	}
	switch driver.CodeOf(err) {
	case driver.CodePermissionDenied:
		return withCode(ExitPermissionDenied, err)
	case driver.CodeNotFound:
		return withCode(ExitNotFound, err)
	case driver.CodeInvalid:
		return withCode(ExitUsage, err)
	case driver.CodeConflict:
		return withCode(ExitConflict, err)
	case driver.CodeCancelled, driver.CodeTimeout:
		return withCode(ExitCancelled, err)
	case driver.CodeIntegrity:
		return withCode(ExitVerifyFailed, err)
	}
	return err
}

func (a *app) printAcquisition(l *custody.Ledger, res *acquisition.Result) {
	if a.json() {
		_ = a.emit(struct {
			Type string `json:"type"`
			*acquisition.Result
			Case string `json:"case"`
		}{"result", res, l.Dir()})
		return
	}
	w := a.Out
	fmt.Fprintf(w, "\nCase %s in %s, acquisition %d\n", safe(res.CaseID), safe(l.Dir()), res.Acquisition)
	if p, ok := res.Principals[driver.Source]; ok {
		fx := res.Principals[driver.Forensic]
		fmt.Fprintf(w, "  source    %s (%s)\n  forensic  %s (%s)\n", safe(p.Account), safe(p.ID), safe(fx.Account), safe(fx.ID))
	}
	var missed, exposed []driver.Finding
	for _, f := range res.Findings {
		if f.NotAcquired() {
			missed = append(missed, f)
		} else {
			exposed = append(exposed, f)
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(w, "\n!!! NOT ACQUIRED: %s of these workloads that no snapshot can take:\n", counted(len(missed), "volume", "volumes"))
		for _, f := range missed {
			fmt.Fprintf(w, "    %s\n", safe(f.Detail))
		}
	}
	if len(exposed) > 0 {
		fmt.Fprintf(w, "\n!!! EXPOSURE: %s: copies of these volumes, or access to them, that others can use:\n", counted(len(exposed), "finding", "findings"))
		for _, f := range exposed {
			fmt.Fprintf(w, "    %s\n", safe(f.Detail))
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VOLUME\tSOURCE SNAPSHOT\tEVIDENCE\tIMAGE SHA-256\tRESULT")
	for _, v := range res.Volumes {
		src, ev, sum, result := "-", "-", "-", "ok"
		if v.SourceSnapshot != nil {
			src = v.SourceSnapshot.ID
		}
		if v.Evidence != nil && v.Recorded {
			ev = v.Evidence.ID
			if v.Locked != "" {
				ev += " (locked)"
			}
		}
		switch {
		case v.Digest != nil:
			sum = v.Digest.ImageSHA256
		case v.Deferred != "":
			sum = "deferred"
		}
		switch {
		case v.Code == driver.CodeCancelled || v.Code == driver.CodeTimeout:
			result = "stopped"
		case v.Error != "":
			result = "FAILED: " + firstLine(v.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safe(v.Volume.ID), safe(src), safe(ev), sum, safe(result))
	}
	tw.Flush()
	if len(res.Left) > 0 {
		fmt.Fprintf(w, "\nLeft in place:\n")
		for _, l := range res.Left {
			fmt.Fprintf(w, "  %-8s %-10s %-14s %s  %s\n", l.Side, safe(l.Location), safe(l.Kind), safe(l.ID), safe(l.Note))
		}
	}
	if res.Checkpoint != "" {
		fmt.Fprintf(w, "\nCheckpoint (keep a copy outside the case):\n%s\n", res.Checkpoint)
		fmt.Fprintf(w, "An auditor verifies the case with:\n  acquire verify %s --key custody.pub --checkpoint <held copy of the checkpoint>\n", l.Dir())
	}
}

// dryRun describes the target with read-only calls and prints the plan and the permissions it needs.
func (a *app) dryRun(ctx context.Context, d driver.Driver, opts acquisition.Options, permissions func(driver.Side) [][2]string) error {
	workloads, err := d.Describe(ctx, opts.Target)
	if err != nil {
		return acquisitionError(driver.Wrap(d, "describe", "", err))
	}
	plan, err := acquisition.DryRun(d, workloads, opts)
	if err != nil {
		return acquisitionError(err)
	}
	if a.json() {
		perms := map[driver.Side][]string{}
		for _, side := range []driver.Side{driver.Source, driver.Forensic} {
			for _, p := range permissions(side) {
				perms[side] = append(perms[side], p[0])
			}
		}
		return a.emit(map[string]any{"plan": plan, "permissions": perms})
	}
	a.printf("Plan (dry run: nothing was changed)\n\n")
	for _, s := range plan {
		a.safe("  %-3d %-8s %-22s %s\n", s.N, string(s.Side), s.Subject, s.Action)
	}
	for _, side := range []driver.Side{driver.Source, driver.Forensic} {
		a.printf("\nPermissions the %s side needs:\n", side)
		for _, p := range permissions(side) {
			a.printf("  %-36s %s\n", p[0], p[1])
		}
	}
	return nil
}

// counted is n with the word in its number: "1 volume", "2 volumes".
func counted(n int, one, more string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, more)
}
