// Package awssim simulates the parts of AWS that a forensic acquisition
// uses, over the real wire protocols, so that the unmodified aws-sdk-go-v2
// clients and the AWS CLI talk to it through a base endpoint override:
//
//   - EC2 (Query protocol, XML): instances, volumes, snapshots and their
//     sharing, copies, locks and tags;
//   - EBS direct APIs (REST-JSON): ListSnapshotBlocks, GetSnapshotBlock,
//     ListChangedBlocks, with SHA-256 checksums and the per-snapshot quota;
//   - KMS (JSON 1.1): customer managed keys with policies and grants, the AWS
//     managed key aws/ebs, and ECC signing keys (Sign, Verify, GetPublicKey);
//   - STS (Query): GetCallerIdentity and AssumeRole.
//
// A Server is one http.Handler for all four; it dispatches on the service
// named in the request's SigV4 credential scope, maps the access key to its
// account and principal, and verifies the signature. State covers several
// accounts and regions. Volumes are backed by raw (sparse) disk images or by
// synthetic blocks; a volume's blocks are the image's 512 KiB blocks and
// all-zero blocks are not listed. Block checksums are computed once, when
// the image is opened (reading only its data extents); no block data is
// kept in memory.
//
// Snapshots and copies are asynchronous: pending, with a progress that
// advances at Scenario.SnapshotBytesPerSecond, then completed (or error).
// Time comes from Options.Now, so that tests can drive progress, locks,
// token and session lifetimes, key deletion and eventual consistency with a
// fake clock; injected latency goes through Options.Sleep. Resource IDs
// derive from Scenario.Seed and a counter per kind of resource, so that the
// same creating calls yield the same IDs whatever else is called.
//
// The documented rules are enforced with the real error codes; each rule
// carries the URL of the documentation it comes from next to its code.
// Faults (throttling, server errors, latency, eventual consistency, wrong
// block checksums, snapshots ending in error) are set with SetFaults or in
// the scenario, and are reproducible with a seed. Shares, Snapshots, Keys,
// KeysPendingDeletion, Grants and CallCounts let a test look at the state
// without going through the protocol under test.
//
// SaveState writes what clients created or changed as a versioned JSON
// document, and Options.State restores it over the same scenario, so that
// the simulated AWS survives a restart of its process (cmd/cloudsim
// --state-dir). Disk content is not copied; times are absolute.
//
// The simulator is written from the AWS documentation, never from the
// driver it tests. See README.md for the scenario format, the rules and what
// is not simulated.
package awssim
