// Package version identifies this build of acquire, for people and for custody records.
package version

import (
	"runtime/debug"

	"github.com/acquire-forensics/acquire/custody"
)

// Set at link time: go build -ldflags "-X .../internal/version.Version=v1.2.3 -X .../internal/version.Commit=abc".
var (
	Version = "0.1.0-dev"
	Commit  = ""
)

// Tool is this build as custody records name it.
func Tool() custody.Tool {
	return custody.Tool{Name: "acquire", Version: Version, Commit: commit()}
}

func commit() string {
	if Commit != "" {
		return Commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
