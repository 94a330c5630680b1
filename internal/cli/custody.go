package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/termsafe"
)

func newCustodyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "custody",
		Short: "Write and read a case's chain-of-custody records",
	}
	cmd.AddCommand(newInitCmd(a), newLogCmd(a), newShowCmd(a), newSealCmd(a), newCheckpointCmd(a), newProveCmd(a), newCheckProofCmd(a), newTrustedRootCmd(a))
	return cmd
}

func newInitCmd(a *app) *cobra.Command {
	var (
		sign   signingOptions
		caseID string
		note   string
	)
	cmd := &cobra.Command{
		Use:   "init CASE",
		Short: "Create a case directory and its opening record",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if caseID == "" {
				caseID = filepath.Base(filepath.Clean(dir))
			}
			if err := custody.ValidCaseID(caseID); err != nil {
				return usageErrorf(err)
			}
			if _, err := os.Stat(filepath.Join(dir, custody.PublicKeyFile)); err == nil {
				return withCode(ExitConflict, fmt.Errorf("%s is already a case: add to it with `acquire custody log`", dir))
			}
			opts, err := sign.ledgerOptions(cmd.Context(), a)
			if err != nil {
				return err
			}
			l, err := custody.Create(cmd.Context(), dir, caseID, opts)
			if err != nil {
				return err
			}
			defer l.Close()
			if note != "" {
				if _, err := l.Append(cmd.Context(), custody.Entry{Action: "note", Note: note}); err != nil {
					return err
				}
			}
			return a.reportLedger(l, "created")
		},
	}
	sign.addFlags(cmd)
	cmd.Flags().StringVar(&caseID, "case-id", "", "the case's identifier (default: the directory's name)")
	cmd.Flags().StringVar(&note, "note", "", "a first note for the record")
	return cmd
}

func (a *app) reportLedger(l *custody.Ledger, what string) error {
	if a.json() {
		return a.emit(map[string]any{"case": l.Dir(), "caseId": l.CaseID(), "records": l.Len(), "keyId": l.Signer().KeyID()})
	}
	a.safe("case %s %s in %s: %d records, signed by key %s\n", l.CaseID(), what, l.Dir(), l.Len(), l.Signer().KeyID())
	return nil
}

var actionRule = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$`)

func newLogCmd(a *app) *cobra.Command {
	var (
		sign    signingOptions
		action  string
		note    string
		attach  []string
		details []string
		failed  string
	)
	cmd := &cobra.Command{
		Use:   "log CASE",
		Short: "Record something people did with the evidence (transfer, receipt, analysis, storage, ...)",
		Long: `Record a custody event done by people: a transfer to an examiner, its receipt, the start of an
analysis, a move to storage, a release. The record names the operator, the authority given with the
flags, and any attached files, which are kept in the case with their digests.

Examples:
  acquire custody log case/ --action transfer --note "drive handed to J. Smith, lab 2" --ticket IR-42
  acquire custody log case/ --action receipt --note "received sealed, seal #4471 intact"
  acquire custody log case/ --action analysis.start --attach notes.txt`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(action) > 64 || !actionRule.MatchString(action) {
				return usageErrorf(fmt.Errorf("--action %q: use lower-case words joined by '.' or '-', such as transfer, receipt, analysis.start", action))
			}
			if action == "case.open" || action == "case.seal" {
				return usageErrorf(fmt.Errorf("--action %s is written by `custody init` and `custody seal`", action))
			}
			detailMap := map[string]any{}
			for _, d := range details {
				k, v, ok := strings.Cut(d, "=")
				if !ok || k == "" {
					return usageErrorf(fmt.Errorf("--detail %q: use key=value", d))
				}
				detailMap[k] = v
			}
			// Read attachments before opening the case: a missing file writes nothing.
			type file struct {
				name string
				data []byte
			}
			var files []file
			for _, p := range attach {
				data, err := os.ReadFile(p)
				if err != nil {
					return fmt.Errorf("--attach: %w", err)
				}
				files = append(files, file{filepath.Base(p), data})
			}
			l, err := sign.openCase(cmd.Context(), a, args[0])
			if err != nil {
				return err
			}
			defer l.Close()
			e := custody.Entry{Action: action, Note: note}
			if len(detailMap) > 0 {
				e.Details = detailMap
			}
			if failed != "" {
				e.Result = custody.Result{Status: custody.StatusFailed, Message: failed}
			}
			for _, f := range files {
				sub, err := l.AddArtifact("attachments/"+f.name, f.data, "")
				if err != nil {
					return err
				}
				e.Subjects = append(e.Subjects, sub)
			}
			rec, err := l.Append(cmd.Context(), e)
			if err != nil {
				return err
			}
			if a.json() {
				return a.emit(recordView(rec))
			}
			a.safe("record %d written: %s\n", rec.Seq, rec.Path)
			return nil
		},
	}
	sign.addFlags(cmd)
	cmd.Flags().StringVar(&action, "action", "", "what happened: transfer, receipt, analysis.start, storage, release, note, ...")
	cmd.Flags().StringVar(&note, "note", "", "a free-text note")
	cmd.Flags().StringArrayVar(&attach, "attach", nil, "a file to keep in the case with this record (repeatable)")
	cmd.Flags().StringArrayVar(&details, "detail", nil, "a key=value fact for the record (repeatable)")
	cmd.Flags().StringVar(&failed, "failed", "", "record the event as failed, with this message")
	_ = cmd.MarkFlagRequired("action")
	return cmd
}

// recordJSON is how show and log present a record to machines.
type recordJSON struct {
	Seq       uint64            `json:"seq"`
	Path      string            `json:"path"`
	Digest    string            `json:"payloadSha256"`
	Subjects  []custody.Subject `json:"subjects"`
	Predicate custody.Event     `json:"predicate"`
}

func recordView(r custody.Record) recordJSON {
	return recordJSON{Seq: r.Seq, Path: filepath.ToSlash(r.Path), Digest: custody.PayloadDigest(r.Payload), Subjects: r.Statement.Subject, Predicate: r.Statement.Predicate}
}

func newShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show CASE",
		Short: "Print a case's history as a timeline (not a verification: run `acquire verify` for that)",
		Long: `Print a case's history as a timeline, from the records as they are on disk: nothing here is
verified (run acquire verify for that). Every string a record holds is shown with control characters,
escape sequences, bidirectional overrides and bytes that are not UTF-8 made visible, since records hold
names an attacker chose (tags, user data, resource names).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, bad, err := custody.ReadReadableRecords(args[0])
			if err != nil {
				return err
			}
			for _, e := range bad {
				fmt.Fprintf(a.Err, "acquire: unreadable record left out: %s (run `acquire verify`)\n", termsafe.String(e.Error()))
			}
			if a.json() {
				for _, r := range recs {
					if err := a.emitTyped("record", recordView(r)); err != nil {
						return err
					}
				}
				return nil
			}
			if len(recs) == 0 {
				return withCode(ExitNotFound, fmt.Errorf("%s holds no records", args[0]))
			}
			first := recs[0].Statement.Predicate
			a.safe("Case %s, %d records, signed by key %s (not verified)\n\n", first.CaseID, len(recs), first.Signer.KeyID)
			tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTION\tRESULT\tWHO\tWHAT")
			for _, r := range recs {
				ev := r.Statement.Predicate
				action := ev.Action
				if ev.Phase != "" {
					action += " (" + ev.Phase + ")"
				}
				result := ev.Result.Status
				if ev.Result.Code != "" {
					result += " " + ev.Result.Code
				}
				who := ev.Actor.Operator
				if ev.Actor.Principal != "" {
					who += " as " + ev.Actor.Principal
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, termsafe.String(ev.Time), termsafe.String(action), termsafe.String(result),
					termsafe.String(who), termsafe.String(describe(r.Statement)))
			}
			return tw.Flush()
		},
	}
}

// describe sums up what a record is about in one line.
func describe(st *custody.Statement) string {
	var parts []string
	if st.Predicate.Note != "" {
		parts = append(parts, st.Predicate.Note)
	}
	if st.Predicate.Result.Message != "" {
		parts = append(parts, st.Predicate.Result.Message)
	}
	for _, s := range st.Subject {
		if s.Kind() == custody.KindCase {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s sha256:%.12s…", s.Name, s.Digest["sha256"]))
	}
	return strings.Join(parts, "; ")
}

func newSealCmd(a *app) *cobra.Command {
	var (
		sign signingOptions
		note string
	)
	cmd := &cobra.Command{
		Use:   "seal CASE",
		Short: "Append a seal record, then write a signed checkpoint and a signed manifest of the case",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := sign.openCase(cmd.Context(), a, args[0])
			if err != nil {
				return err
			}
			defer l.Close()
			s, err := l.Seal(cmd.Context(), note)
			if err != nil {
				return err
			}
			if s.Completed && !a.json() {
				a.printf("record %d sealed the case, and its seal was not finished: its checkpoint and manifest are now written (no new seal record)\n", s.Record.Seq)
			}
			return a.reportCheckpoint(l, s.Checkpoint, s.Manifest.Path)
		},
	}
	sign.addFlags(cmd)
	cmd.Flags().StringVar(&note, "note", "", "a note for the seal record")
	return cmd
}

func (a *app) reportCheckpoint(l *custody.Ledger, cp custody.SignedCheckpoint, manifest string) error {
	if a.json() {
		out := map[string]any{"case": l.Dir(), "caseId": l.CaseID(), "records": cp.Size, "checkpoint": filepath.ToSlash(cp.Path), "checkpointText": string(cp.Note)}
		if manifest != "" {
			out["manifest"] = filepath.ToSlash(manifest)
		}
		return a.emit(out)
	}
	a.safe("case %s: checkpoint over %d records in %s\n", l.CaseID(), cp.Size, cp.Path)
	if manifest != "" {
		a.safe("manifest: %s\n", manifest)
	}
	a.printf("\n")
	for _, line := range strings.SplitAfter(string(cp.Note), "\n") {
		a.printf("%s", termsafe.String(strings.TrimSuffix(line, "\n")))
		if strings.HasSuffix(line, "\n") {
			a.printf("\n")
		}
	}
	a.printf("\nKeep a copy of this checkpoint outside the case: with it, any later cut or rewrite shows.\n")
	return nil
}

func newCheckpointCmd(a *app) *cobra.Command {
	var sign signingOptions
	cmd := &cobra.Command{
		Use:   "checkpoint CASE",
		Short: "Write a signed checkpoint over the case's records as they are now",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := sign.openCase(cmd.Context(), a, args[0])
			if err != nil {
				return err
			}
			defer l.Close()
			cp, err := l.Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			return a.reportCheckpoint(l, cp, "")
		},
	}
	sign.addFlags(cmd)
	return cmd
}

func newProveCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "prove CASE SEQ",
		Short: "Write a C2SP tlog-proof that record SEQ is in the case's latest checkpoint",
		Long: `Write an inclusion proof (c2sp.org/tlog-proof@v1) for one record: with the record file and the
public key, anyone can check offline that the record is part of the signed log, without seeing the
other records (acquire custody check-proof).`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil || seq == 0 {
				return usageErrorf(fmt.Errorf("SEQ %q: a record number from 1", args[1]))
			}
			if _, err := os.Stat(filepath.Join(args[0], custody.RecordPath(seq))); err != nil {
				return withCode(ExitNotFound, fmt.Errorf("record %d: %w", seq, err))
			}
			proof, err := custody.Prove(args[0], seq)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = a.Out.Write(proof)
				return err
			}
			return os.WriteFile(out, proof, 0o644)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the proof to this file (default: standard output)")
	return cmd
}

func newCheckProofCmd(a *app) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "check-proof PROOF RECORD",
		Short: "Check offline that a record file is included in a signed checkpoint",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageErrorf(errors.New("--key is required: the custody public key (PEM file or KMS URI)"))
			}
			v, err := custody.LoadVerifier(cmd.Context(), key)
			if err != nil {
				return err
			}
			proof, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			rec, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			res, err := custody.CheckProof(proof, rec, v)
			if err != nil {
				return withCode(ExitVerifyFailed, err)
			}
			if a.json() {
				return a.emit(map[string]any{"ok": true, "seq": res.Seq, "caseId": res.CaseID, "action": res.Action, "checkpointSize": res.Checkpoint.Size, "origin": res.Checkpoint.Origin})
			}
			a.safe("OK: record %d (%s) of case %s is in the checkpoint of %d records signed by %s\n", res.Seq, res.Action, res.CaseID, res.Checkpoint.Size, v.KeyID())
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the custody public key: PEM file or KMS URI")
	return cmd
}

func newTrustedRootCmd(a *app) *cobra.Command {
	var roots, uri string
	cmd := &cobra.Command{
		Use:   "trusted-root",
		Short: "Write a trusted_root.json naming a time-stamping authority, for cosign --trusted-root",
		Long: `Write a Sigstore trusted root that names only the given time-stamping authority: cosign needs it to
check a case's RFC 3161 time-stamps offline (--trusted-root trusted_root.json --use-signed-timestamps).
Give the authority's certificates from your own trusted copy, not from the case.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if roots == "" {
				return usageErrorf(errors.New("--tsa-roots is required"))
			}
			data, err := os.ReadFile(roots)
			if err != nil {
				return err
			}
			trust, err := custody.ParseTSATrust(data)
			if err != nil {
				return usageErrorf(err)
			}
			out, err := custody.TrustedRootJSON(trust, uri)
			if err != nil {
				return err
			}
			_, err = a.Out.Write(append(out, '\n'))
			return err
		},
	}
	cmd.Flags().StringVar(&roots, "tsa-roots", "", "PEM file of the time-stamping authority's root (and intermediates)")
	cmd.Flags().StringVar(&uri, "tsa-url", "", "the authority's URL, for the record")
	return cmd
}
