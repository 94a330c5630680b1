// Package acquisition is the cloud-neutral acquisition engine. An Acquirer takes compromised
// workloads to signed, digested evidence in an isolated forensic account, through a driver.Driver that
// knows one cloud's primitives and nothing of the order they run in.
//
// The engine owns what is the same on every cloud: the plan and its checks before anything is made,
// the order of the steps, bounded concurrency across volumes and workloads, bounded and batched waits,
// retries, progress events, the removal of what it made for its own use (on success, failure and
// cancel), the hashing of evidence content read through a driver's block reader, and a custody record
// before and after every cloud call. The custody ledger is also the journal: running the same
// acquisition again reads it back (through the ledger, which verified it), looks up by token what
// steps in flight or failed may have made, and continues. See docs/architecture.md.
package acquisition
