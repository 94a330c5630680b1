package export

import "syscall"

// nonBlocking opens a FIFO without waiting for a writer: RehashFile then refuses it.
const nonBlocking = syscall.O_NONBLOCK
