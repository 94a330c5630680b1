package cli

import (
	"context"

	"github.com/acquire-forensics/acquire/custody"
)

// openForTest opens a case for writing the way the commands do, for tests that need a second writer.
func openForTest(dir string, env map[string]string) (*custody.Ledger, error) {
	a := &app{Streams: Streams{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}}
	var o signingOptions
	return o.openCase(context.Background(), a, dir)
}
