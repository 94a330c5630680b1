// Package providers is the cloud-neutral acquisition engine. An Acquirer takes a compromised workload
// to signed, digested evidence in an isolated forensic account, through a Driver that knows one cloud's
// primitives (snapshot, share, copy, digest, revoke, delete) and nothing of the order they run in.
//
// The engine owns what is the same on every cloud: the order of the steps, bounded concurrency across
// volumes and workloads, bounded and batched waits, retries of idempotent calls, progress events,
// cleanup on failure and on cancel, and a custody record before and after every cloud call. The custody
// ledger is also the journal: running the same acquisition again for the same case reads it back,
// finds the steps that were in flight, looks their resources up by token, and continues.
package providers
