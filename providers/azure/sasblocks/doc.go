// Package sasblocks reads a managed disk snapshot's content through the read SAS that beginGetAccess
// grants: Get Page Ranges lists what was written, ranged Get Blob reads it in fixed 512 KiB blocks (as
// EBS direct does), many in flight and delivered in order, each range checked against the Content-MD5
// the blob service returns for ranges of at most 4 MiB. Close ends the access (endGetAccess), always.
//
// The SAS URL is a secret: whoever holds it reads the disk until it expires. It lives in this package's
// client only; no error, log line or record carries it, and what the record says is who was granted
// access, to what, until when.
// (https://learn.microsoft.com/rest/api/storageservices/get-page-ranges,
// https://learn.microsoft.com/rest/api/storageservices/get-blob,
// https://learn.microsoft.com/azure/virtual-machines/linux/disks-export-import-private-links-cli)
package sasblocks
