// Package aws is the AWS driver of the acquisition engine: EC2 snapshots, cross-account sharing and
// copies, KMS keys and grants, and content digests through the EBS direct APIs. It is the only package
// that imports the AWS SDK for acquisition; the engine (package acquisition) decides the order of the
// calls, this package makes them.
//
// Moving a snapshot to the forensic account depends on its encryption:
//
//   - unencrypted: shared as it is, then copied into the forensic account under its key;
//   - customer managed key: the forensic account gets a grant on the key for the copy, revoked after;
//   - the AWS managed key (aws/ebs) cannot be shared: the snapshot is first copied in the source account
//     under a shareable key (given, or a temporary key usable by the forensic account only, scheduled for
//     deletion after), and that intermediate copy is shared, copied, and deleted.
//
// (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html)
package aws
