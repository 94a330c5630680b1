// Command acquire preserves the disks of compromised cloud workloads as evidence, with a signed,
// hash-chained chain of custody. See the README and `acquire --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/acquire-forensics/acquire/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
