// Package gcp is the Google Cloud driver: it acquires Compute Engine instances (every attached disk)
// and persistent disks by snapshotting them straight into the forensic project (snapshots.insert with a
// sourceDisk in the source project), so that the evidence never lives in the compromised one.
//
// It uses the Compute Engine REST clients of cloud.google.com/go/compute/apiv1 with Application Default
// Credentials, a key file, or an impersonated service account. Every call that makes something carries
// a requestId derived from the engine's token, and every resource it makes carries the token as a
// label, so that a call whose outcome is unknown is found again instead of repeated. The operation's
// own error is read from every answer: the Go client's Wait returns nil for a DONE operation whose
// error has no httpErrorStatusCode.
//
// GCP has no snapshot lock and no API that returns a disk's or a block's checksum: the driver has no
// Locker and no BlockReader.
package gcp
