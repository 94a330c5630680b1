package main

import (
	"fmt"
	"os"
	"strings"
)

// envVar is one line of the env file.
type envVar struct {
	name, value string
}

// writeEnvFile writes NAME='value' lines that both POSIX shells (with
// set -a) and dotenv readers accept. The file may hold secrets: it is
// readable by its owner only.
func writeEnvFile(path string, vars []envVar) error {
	var b strings.Builder
	b.WriteString("# Written by cloudsim: the environment a client needs to reach the range.\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "%s='%s'\n", v.name, strings.ReplaceAll(v.value, "'", `'\''`))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
