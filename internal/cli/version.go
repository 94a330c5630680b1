package cli

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/version"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and custody format",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tool := version.Tool()
			info := map[string]string{
				"name":          tool.Name,
				"version":       tool.Version,
				"commit":        tool.Commit,
				"go":            runtime.Version(),
				"predicateType": custody.PredicateType,
			}
			if a.json() {
				return a.emit(info)
			}
			a.printf("acquire %s (commit %s, %s)\ncustody format %s\n", tool.Version, tool.Commit, info["go"], custody.PredicateType)
			return nil
		},
	}
}
