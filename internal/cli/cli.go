// Package cli is the acquire command line: flag groups mapped onto library calls, output for people
// or for machines, and documented exit codes. It holds no logic of its own worth testing apart from
// that mapping.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/internal/termsafe"
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

// emit writes v as one line of JSON on stdout: with --output json, stdout is JSON Lines throughout
// (docs/json-output.md). Strings from records and clouds keep their exact values; what a terminal
// would act on is written as \u escapes.
func (a *app) emit(v any) error { return a.emitTyped("result", v) }

// emitTyped writes v as one line of JSON whose "type" member says what it is ("result", "record"),
// unless v has a type of its own.
func (a *app) emitTyped(kind string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	data := bytes.TrimSpace(buf.Bytes())
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) == nil {
		if _, typed := members["type"]; !typed {
			if len(members) == 0 {
				data = []byte(`{"type":"` + kind + `"}`)
			} else {
				data = append([]byte(`{"type":"`+kind+`",`), data[1:]...)
			}
		}
	}
	return a.emitLine(json.RawMessage(data))
}

// printf writes text for people on stdout. Its arguments that come from a record or a cloud must be
// passed through termsafe.String (safe does it for a whole line).
func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.Out, format, args...) }

// safe is printf with every string argument escaped for the terminal: for lines whose arguments
// come from records or clouds.
func (a *app) safe(format string, args ...any) {
	for i, arg := range args {
		switch v := arg.(type) {
		case string:
			args[i] = termsafe.String(v)
		case fmt.Stringer:
			args[i] = termsafe.String(v.String())
		case error:
			args[i] = termsafe.String(v.Error())
		}
	}
	fmt.Fprintf(a.Out, format, args...)
}

// emitLine writes v as one line of JSON: the last line of a stream of events.
func (a *app) emitLine(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := a.Out.Write(termsafe.JSON(buf.Bytes()))
	return err
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
	err = cobraUsage(err)
	code := exitCode(err)
	if code == ExitError && ctx.Err() != nil {
		code = ExitCancelled
	}
	if a.json() {
		// The error is the stream's last line, with the exit code's name.
		_ = a.emitLine(struct {
			Type     string `json:"type"`
			Error    string `json:"error"`
			Exit     int    `json:"exit"`
			ExitName string `json:"exitName"`
		}{"error", err.Error(), code, exitName(code)})
		return code
	}
	var ee *exitError
	if !errors.As(err, &ee) || !ee.reported {
		// Errors name cases, records and cloud resources whose names an attacker may have chosen.
		fmt.Fprintf(s.Err, "acquire: %s\n", termsafe.String(err.Error()))
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
				return usageErrorf(fmt.Errorf("--output %q: use text or json (-o is the output format; to write a file, use --out FILE)", a.output))
			}
			return nil
		},
	}
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf(err) })
	group(root)
	root.AddCommand(newVersionCmd(a), newKeygenCmd(a), newCustodyCmd(a), newVerifyCmd(a), newAWSCmd(a), newGCPCmd(a), newAzureCmd(a), addGCPIAM(a, newIAMCmd(a)), newExportCmd(a), newReportCmd(a))
	addCompletions(root)
	for _, c := range root.Commands() {
		if !c.Runnable() && c.HasSubCommands() {
			group(c)
		}
	}
	return root
}

// cobraUsage gives cobra's own errors about the command line (an unknown command, a required flag
// missing, a flag value cobra cannot parse) the usage exit code.
func cobraUsage(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "required flag(s)", "invalid argument", "unknown flag", "unknown shorthand flag", "flag needs an argument", "if any flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return usageErrorf(err)
		}
	}
	return err
}

// group is a command that only holds others: alone it shows its help, and an unknown subcommand is a
// usage error (cobra would show the help and succeed).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf(fmt.Errorf("unknown command %q for %q (see `%s --help`)", args[0], c.CommandPath(), c.CommandPath()))
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

// exactArgs is cobra.ExactArgs with a usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return usageErrorf(cobra.ExactArgs(n)(cmd, args))
	}
}
