//go:build !linux

package export

import "os"

// startWriteback does nothing where the kernel offers no asynchronous writeback request.
func startWriteback(*os.File) {}
