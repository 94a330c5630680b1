// Package azure is the Azure driver of the acquisition engine: full snapshots made straight into the
// forensic subscription from the source disks (creationData Copy, one tenant, one region), found again
// by their names and tags, crash-consistent sets through a VM restore point in the source subscription
// (made only when asked, and removed after), CanNotDelete management locks, and content digests read
// through a short-lived read SAS (package sasblocks). It is the only package that imports the Azure SDK
// for acquisition; the engine (package acquisition) decides the order of the calls, this package makes them.
//
// Why full snapshots: an incremental snapshot cannot be created outside its disk's subscription, and
// Copy works within a region only; the cross-region path (an incremental snapshot copied with
// CopyStart) would leave the evidence in the compromised subscription first, so it is refused at the plan.
// (https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions,
// https://learn.microsoft.com/azure/virtual-machines/disks-copy-incremental-snapshot-across-regions)
package azure
