package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/analysis/report"
	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/termsafe"
	"github.com/acquire-forensics/acquire/internal/version"
)

// Report formats.
const (
	formatMarkdown = "markdown"
	formatHTML     = "html"
	formatJSON     = "json"
)

func newReportCmd(a *app) *cobra.Command {
	var (
		trust  trustFlags
		format string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "report CASE",
		Short: "Write a report on a case for people (Markdown, HTML) or machines (JSON), with its verification",
		Long: `Write a report on a case: the case summary (what was acquired from where to where, by whom, under
what authority, with which tool), the custody timeline (every record), the evidence with its digests
and where each copy lives, captured artifacts, exports and re-hashes, findings, the verification
results, and a section of facts in support of a certification of authenticity (in the spirit of US
FRE 902(13)/(14)) with a place for the qualified person's signature.

The case is verified as by acquire verify, with the same trust flags: give the public key (--key) or
its fingerprint (--fingerprint), the time-stamping authority's roots (--tsa-roots) and checkpoints
held elsewhere (--checkpoint). Without a key the report says prominently that the key was not pinned.
A case that fails verification still gets a report, which shows every problem; the exit code is then
still 0 (use acquire verify for a verdict by exit code).

The format is --format, or json with --output json, or guessed from the --out file's extension
(.md, .html, .json), else Markdown.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if out == "-" {
				out = ""
			}
			f, err := reportFormat(format, out, a.json())
			if err != nil {
				return err
			}
			if out != "" {
				if st, err := os.Stat(out); err == nil && st.IsDir() {
					return usageErrorf(fmt.Errorf("--out %s is a directory: give the report's file name, such as %s", out, filepath.Join(out, "report.html")))
				}
				if err := outsideCase(dir, out); err != nil {
					return err
				}
			}
			vopts, err := trust.verifyOptions(cmd.Context())
			if err != nil {
				return err
			}
			r, err := report.Build(cmd.Context(), dir, report.Options{
				Verify:          vopts,
				KeyGiven:        trust.key,
				HeldCheckpoints: trust.held,
				Generator:       version.Tool(),
			})
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := render(&buf, f, r); err != nil {
				return err
			}
			if out == "" {
				if _, err := a.Out.Write(buf.Bytes()); err != nil {
					return err
				}
			} else if err := writeFileAtomic(out, buf.Bytes()); err != nil {
				return err
			}
			a.tellVerification(r, out)
			return nil
		},
	}
	trust.addFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "markdown, html or json (default: from --output, then from the --out extension, else markdown)")
	fl.StringVar(&out, "out", "", "write the report to this file instead of stdout ('-'); not inside the case, where it would be a stray file")
	return cmd
}

// trustFlags are what a case is verified against; they mean what they mean for acquire verify.
type trustFlags struct {
	key         string
	fingerprint string
	tsaRoots    string
	held        []string
	workers     int
}

func (t *trustFlags) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.key, "key", "", "the trusted custody public key: PEM file or KMS URI")
	f.StringVar(&t.fingerprint, "fingerprint", "", "pin the key by fingerprint: base64 key hint, or hex SHA-256 of its DER")
	f.StringVar(&t.tsaRoots, "tsa-roots", "", "PEM file of the time-stamping authority's roots (and intermediates)")
	f.StringArrayVar(&t.held, "checkpoint", nil, "a signed checkpoint kept outside the case (repeatable)")
	f.IntVar(&t.workers, "workers", 0, "records checked in parallel (default: all cores)")
}

func (t *trustFlags) verifyOptions(ctx context.Context) (custody.VerifyOptions, error) {
	opts := custody.VerifyOptions{KeyID: t.fingerprint, Workers: t.workers}
	if t.fingerprint != "" {
		if _, err := custody.ParseKeyID(t.fingerprint); err != nil {
			return opts, usageErrorf(fmt.Errorf("--fingerprint: %w (give the key's fingerprint as base64 or hex SHA-256 of its public key DER: `openssl pkey -pubin -in custody.pub -outform DER | sha256sum`)", err))
		}
	}
	if t.workers < 0 {
		return opts, usageErrorf(fmt.Errorf("--workers %d: give a number of workers, or 0 for all cores", t.workers))
	}
	if t.key != "" {
		v, err := custody.LoadVerifier(ctx, t.key)
		if err != nil {
			return opts, err
		}
		opts.Verifier = v
	}
	if t.tsaRoots != "" {
		data, err := os.ReadFile(t.tsaRoots)
		if err != nil {
			return opts, fmt.Errorf("--tsa-roots: %w", err)
		}
		trust, err := custody.ParseTSATrust(data)
		if err != nil {
			return opts, usageErrorf(fmt.Errorf("--tsa-roots %s: %w", t.tsaRoots, err))
		}
		opts.TSATrust = &trust
	}
	for _, p := range t.held {
		data, err := os.ReadFile(p)
		if err != nil {
			return opts, fmt.Errorf("--checkpoint: %w", err)
		}
		opts.Checkpoints = append(opts.Checkpoints, data)
	}
	return opts, nil
}

// reportFormat settles the format from --format, --output json and the --out file's extension.
func reportFormat(format, out string, outputJSON bool) (string, error) {
	switch strings.ToLower(format) {
	case "":
	case "markdown", "md":
		format = formatMarkdown
	case "html":
		format = formatHTML
	case "json":
		format = formatJSON
	default:
		return "", usageErrorf(fmt.Errorf("--format %q: use markdown, html or json", format))
	}
	switch {
	case outputJSON && format != "" && format != formatJSON:
		return "", usageErrorf(fmt.Errorf("--format %s and --output json disagree: give one", format))
	case outputJSON:
		return formatJSON, nil
	case format != "":
		return format, nil
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".html", ".htm":
		return formatHTML, nil
	case ".json":
		return formatJSON, nil
	}
	return formatMarkdown, nil
}

func render(buf *bytes.Buffer, format string, r *report.Report) error {
	switch format {
	case formatHTML:
		return report.HTML(buf, r)
	case formatJSON:
		// HTML-escaping stays on: record strings are attacker-influenced, and JSON ends up in web pages;
		// and what a terminal would act on is written as \u escapes, for whoever prints the file.
		var raw bytes.Buffer
		enc := json.NewEncoder(&raw)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
		buf.Write(termsafe.JSON(raw.Bytes()))
		return nil
	}
	return report.Markdown(buf, r)
}

// outsideCase refuses a report file inside the case directory: verification would find a file no
// record, checkpoint or manifest accounts for.
func outsideCase(dir, out string) error {
	caseAbs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(caseAbs); err == nil {
		caseAbs = real
	}
	if real, err := filepath.EvalSymlinks(filepath.Dir(outAbs)); err == nil {
		outAbs = filepath.Join(real, filepath.Base(outAbs))
	}
	if rel, err := filepath.Rel(caseAbs, outAbs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return usageErrorf(fmt.Errorf("--out %s is inside the case %s: write the report elsewhere", out, dir))
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same directory, so that a failed
// write never leaves a truncated report that looks complete.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-report-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}

// tellVerification says on stderr what the report shows about verification, since the exit code does
// not: the report is written whatever the verdict.
func (a *app) tellVerification(r *report.Report, out string) {
	v := r.Verification
	if !v.KeyPinned {
		fmt.Fprintf(a.Err, "acquire: warning: the key was not pinned: the case was checked against its own %s, which shows only self-consistency (give --key or --fingerprint); the report says SELF-CONSISTENT ONLY\n", custody.PublicKeyFile)
	}
	if !v.OK {
		fmt.Fprintf(a.Err, "acquire: verification FAILED with %d problems: the report shows them (acquire verify exits %d on this case)\n", len(v.Result.Problems), ExitVerifyFailed)
	}
	if out != "" {
		fmt.Fprintf(a.Err, "acquire: report on case %s written to %s (verification: %s)\n", termsafe.String(r.Case.CaseID), termsafe.String(out), v.Verdict)
	}
}
