package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// flagValues are the values a flag takes, wherever it appears, for shell completion.
var flagValues = map[string][]string{
	"output":      {"text", "json"},
	"consistency": {"crash-consistent", "per-volume"},
	"digest":      {"compute", "defer"},
	"format":      {"md", "html", "json"},
}

// lockModes are each cloud command's lock modes.
var lockModes = map[string][]string{
	"aws": {"governance", "compliance"},
}

// addCompletions teaches the shell completion the values of acquire's flags: fixed choices, lock
// modes by cloud, the evidence items of the case named first, and directories for case arguments.
func addCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for name, values := range flagValues {
			if c.Flags().Lookup(name) != nil || (name == "output" && c == root) {
				_ = c.RegisterFlagCompletionFunc(name, fixed(values))
			}
		}
		if modes, ok := lockModes[c.Name()]; ok && c.Flags().Lookup("lock") != nil {
			_ = c.RegisterFlagCompletionFunc("lock", fixed(modes))
		}
		if c.Flags().Lookup("item") != nil {
			_ = c.RegisterFlagCompletionFunc("item", caseItems)
		}
		if c.Flags().Lookup("case") != nil {
			_ = c.RegisterFlagCompletionFunc("case", dirs)
		}
		if strings.Contains(c.Use, "CASE") && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if len(args) == 0 {
					return nil, cobra.ShellCompDirectiveFilterDirs
				}
				return nil, cobra.ShellCompDirectiveDefault
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func fixed(values []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func dirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// caseItems lists the evidence items of the case given as the first argument: snapshot IDs, with the
// source volume as the description.
func caseItems(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	recs, _, err := custody.ReadReadableRecords(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	items, err := evidence.Items(recs)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Snapshot+"\t"+safe("from "+it.SourceVolume))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
