// Package cli is the acquire command line: flag groups mapped onto library calls, output for people
// or for machines, and documented exit codes. It holds no logic of its own worth testing apart from
// that mapping.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Streams are the command's standard streams (tests give buffers).
type Streams struct {
	In        io.Reader
	Out, Err  io.Writer
	LookupEnv func(string) (string, bool) // os.LookupEnv when nil
}

// app is what every command shares.
type app struct {
	Streams
	output string   // "text" or "json"
	args   []string // the command line, for saying how to run it again
}

func (a *app) lookupEnv(key string) (string, bool) {
	if a.LookupEnv == nil {
		return os.LookupEnv(key)
	}
	return a.LookupEnv(key)
}

func (a *app) env(key string) string {
	v, _ := a.lookupEnv(key)
	return v
}

func (a *app) json() bool { return a.output == "json" }

// emit writes v as indented JSON on stdout.
func (a *app) emit(v any) error {
	enc := json.NewEncoder(a.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.Out, format, args...) }

// emitLine writes v as one line of JSON: the last line of a stream of events.
func (a *app) emitLine(v any) error {
	enc := json.NewEncoder(a.Out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jsonRaw embeds already-encoded JSON in a value emit writes.
func jsonRaw(data []byte) json.RawMessage { return json.RawMessage(data) }

// Main runs acquire with args and returns the exit code.
func Main(ctx context.Context, args []string, s Streams) int {
	a := &app{Streams: s, args: args}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) || !ee.reported {
		fmt.Fprintf(s.Err, "acquire: %v\n", err)
	}
	code := exitCode(err)
	if code == ExitError && ctx.Err() != nil {
		code = ExitCancelled
	}
	return code
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "acquire",
		Short: "Forensic acquisition of cloud workloads with signed chain of custody",
		Long: `acquire preserves the disks of a compromised cloud workload as evidence, and records every step
as a signed, hash-chained custody record that an auditor can verify with standard tools.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "text" && a.output != "json" {
				return usageErrorf(fmt.Errorf("--output %q: use text or json", a.output))
			}
			return nil
		},
	}
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf(err) })
	root.AddCommand(newVersionCmd(a), newKeygenCmd(a), newCustodyCmd(a), newVerifyCmd(a), newAWSCmd(a), newIAMCmd(a), newExportCmd(a), newReportCmd(a))
	return root
}

// exactArgs is cobra.ExactArgs with a usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return usageErrorf(cobra.ExactArgs(n)(cmd, args))
	}
}
