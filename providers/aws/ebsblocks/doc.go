// Package ebsblocks reads EBS snapshots through the EBS direct APIs
// (ListSnapshotBlocks, GetSnapshotBlock) and computes their content digests.
//
// The SDK does not check the x-amz-Checksum and x-amz-Data-Length of a block,
// and block data is not covered by SigV4, so this package verifies every block
// itself, fetches it again on a mismatch, and fails with a *ChecksumError when
// the mismatch persists.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapis-using-checksums.html
//
// Blocks are fetched many at a time under a client-side rate limit kept below
// the GetSnapshotBlock quota (1000 requests per second per snapshot and per
// account), so that throttling stays rare; throttling and server errors that
// happen anyway are retried with backoff. The listing is read page by page as
// the read advances, and at most a window of about Options.Concurrency blocks
// is held at once, so memory does not grow with the volume. Blocks reach the
// caller in ascending index order.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-performance.html
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-resource-quotas.html
//
// Block tokens expire (7 days) and so do page tokens (60 minutes); a block
// whose token is refused is listed again from its index, and a refused page
// token restarts the listing after the last block listed.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-faq.html
//
// Digest streams a snapshot into two digests: the SHA-256 of the full raw
// image (unlisted blocks are zeros, as the EBS direct APIs list only written
// blocks), equal to what sha256sum prints for the image file, and the SHA-256
// over the per-block SHA-256 digests in ascending index order (the EBS
// "LINEAR" aggregate).
package ebsblocks
