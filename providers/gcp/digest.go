package gcp

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// digestScript is the worker's startup script: the script that runs in the cloud is the one the
// cloud range runs and the tests test.
//
//go:embed worker/digest.py
var digestScript string

// blockSize is the block of the digest's block list: the engine's, EBS's block size.
const blockSize = 512 << 10

// Worker defaults: a pinned public image (the user can override it), a small shielded VM.
const (
	DefaultWorkerImage       = "projects/debian-cloud/global/images/debian-12-bookworm-v20241210"
	DefaultWorkerMachineType = "e2-small"
	deviceName               = "evidence"
)

// WorkerConfig says how digest workers are made.
type WorkerConfig struct {
	Image       string // the boot image; DefaultWorkerImage when empty
	MachineType string // DefaultWorkerMachineType when empty
	Network     string // global/networks/default when empty; no external IP either way
	Subnetwork  string // regions/R/subnetworks/S, when the network needs one
	Zone        string // where workers run; the disk's zone when empty
	// ImageBucket, when set, is a Cloud Storage bucket of the forensic project the workers write each
	// raw image to, through a resumable upload session made for it (the worker holds no credentials).
	ImageBucket string
	Timeout     time.Duration // longest a worker may take; default 6h
}

var _ driver.Digester = (*Driver)(nil)

// DigestPlan says what digesting a disk involves.
func (d *Driver) DigestPlan(v driver.Volume) []string {
	return []string{
		fmt.Sprintf("make a disk from the evidence snapshot in %s (%d GiB)", d.cfg.ForensicProject, v.SizeBytes>>30),
		"start a worker VM (no external IP, no service account, shielded) with that disk attached read-only",
		"the worker reads the disk once and publishes its digests as guest attributes",
		"delete the worker and its disk",
	}
}

// Digest computes a forensic snapshot's digests on a worker VM in the forensic project: a disk made
// from the snapshot, attached read-only to a VM whose startup script reads it once and publishes the
// image SHA-256 and the block-list SHA-256 as guest attributes
// (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes). The disk and the VM are
// labelled with the token, so a retry or a resumed run finds them; both are returned to be deleted.
func (d *Driver) Digest(ctx context.Context, req driver.DigestRequest) (driver.DigestResult, error) {
	zone := d.cfg.Worker.Zone
	if zone == "" {
		zone = req.Volume.Location
	}
	project := d.cfg.ForensicProject
	c := d.sides[driver.Forensic]
	var res driver.DigestResult
	diskName, vmName, err := d.findWorker(ctx, c, project, zone, req.Token)
	if err != nil {
		return res, err
	}
	haveDisk, haveVM := diskName != "", vmName != ""
	// Names are new for every worker: the engine records each removal by the resource's name, and a
	// name used again would read as removed already.
	if !haveDisk {
		diskName = resourceName("dg", uuid.NewString(), req.Volume.ID)
	}
	if !haveVM {
		vmName = resourceName("dw", uuid.NewString(), req.Volume.ID)
	}
	disk := driver.Resource{Side: driver.Forensic, Location: zone, Kind: kindDisk, ID: diskID(project, zone, diskName),
		Volume: req.Volume.ID, Note: "disk made from the evidence snapshot " + req.Snapshot.ID + ", for the digest"}
	vm := driver.Resource{Side: driver.Forensic, Location: zone, Kind: kindInstance, ID: instanceID(project, zone, vmName),
		Volume: req.Volume.ID, Note: "digest worker VM"}
	if haveDisk {
		res.Temporary = append(res.Temporary, disk)
	}
	if haveVM {
		res.Temporary = append(res.Temporary, vm)
	}
	if req.FindOnly {
		return res, nil
	}
	labels := encodeLabels(req.Labels)
	if !haveDisk {
		op, err := c.disks.Insert(ctx, &computepb.InsertDiskRequest{Project: project, Zone: zone, RequestId: proto.String(uuid.NewString()),
			DiskResource: &computepb.Disk{Name: proto.String(diskName), SourceSnapshot: proto.String("projects/" + project + "/global/snapshots/" + req.Snapshot.ID),
				Labels: labels, Description: proto.String("acquire: evidence snapshot " + req.Snapshot.ID + " for its digest")}}, d.retry())
		res.Temporary = append(res.Temporary, disk)
		if err := d.created(ctx, "compute.disks.insert", op, err); err != nil {
			return res, err
		}
	}
	object := ""
	if d.images != nil {
		object = imageObject(labelValue(req.Labels[driver.LabelCase]), req.Snapshot.ID)
	}
	if !haveVM {
		var extra []*computepb.Items
		if d.images != nil {
			// An image in the bucket already was written by an earlier attempt whose worker is gone: an
			// image is never replaced (the upload may only create it), so the new worker computes the
			// MD5 of the disk only, and the object must match it.
			found, err := d.images.exists(ctx, object)
			if err != nil {
				return res, err
			}
			if found {
				extra = append(extra, &computepb.Items{Key: proto.String("acquire-image-md5"), Value: proto.String("yes")})
			} else {
				uri, err := d.images.session(ctx, object, map[string]string{"acquire-snapshot": req.Snapshot.ID, "acquire-volume": req.Volume.ID,
					tokenLabel: labelValue(req.Token)})
				if err != nil {
					return res, err
				}
				extra = append(extra, &computepb.Items{Key: proto.String("acquire-image-upload"), Value: proto.String(uri)})
			}
		}
		op, err := c.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zone,
			RequestId: proto.String(uuid.NewString()), InstanceResource: d.workerInstance(vmName, zone, disk.ID, labels, extra...)}, d.retry())
		res.Temporary = append(res.Temporary, vm)
		if err := d.created(ctx, "compute.instances.insert", op, err); err != nil {
			return res, err
		}
	}
	dg, err := d.awaitDigest(ctx, c, project, zone, vmName, req)
	if err != nil {
		return res, err
	}
	dg.Method = fmt.Sprintf("a worker VM %s in project %s read the disk %s, made from the evidence snapshot %s and attached read-only, "+
		"once from start to end in blocks of %d bytes (every block is listed: a disk has no list of written blocks). "+
		"ImageSHA256 is the SHA-256 of the %d-byte raw image (equal to sha256sum of the image file); BlockListSHA256 is the SHA-256 over "+
		"the 32-byte SHA-256 digests of its %d blocks in index order. The worker published them as guest attributes.",
		vmName, project, diskName, req.Snapshot.ID, dg.BlockSize, dg.SizeBytes, dg.ListedBlocks)
	dg.Access = "read-only attachment of a disk of the forensic project; the worker holds no credentials"
	if d.images != nil {
		attrs, err := d.guestAttributes(ctx, c, project, zone, vmName)
		if err != nil {
			return res, err
		}
		a, err := d.images.check(ctx, object, dg.SizeBytes, attrs["image-md5"])
		if err != nil {
			return res, err
		}
		kept := imageResource(d.images.bucket, object, req.Volume, a)
		res.Kept = append(res.Kept, kept)
		dg.Image = kept.ID
		dg.Access += "; the raw image is " + kept.ID + ", written through a resumable upload session made for that object only (ifGenerationMatch=0), " +
			"its size and MD5 as Cloud Storage computed them equal to those of the bytes the worker read"
	}
	res.Digest = &dg
	return res, nil
}

// created waits for a create's operation. A name taken is this step's own resource (names derive
// from the token): made by an attempt whose answer was lost. Each create has a fresh requestId: it
// runs only after a lookup found nothing, and a resource an earlier attempt made may have been
// deleted since, which a repeated requestId would not make again.
func (d *Driver) created(ctx context.Context, method string, op *compute.Operation, err error) error {
	if isStatus(err, http.StatusConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	record(ctx, method, op)
	return d.wait(ctx, op)
}

// findWorker finds by their token label the disk and the worker an earlier attempt made.
func (d *Driver) findWorker(ctx context.Context, c *clients, project, zone, token string) (disk, vm string, err error) {
	filter := proto.String(fmt.Sprintf("labels.%s = %q", tokenLabel, labelValue(token)))
	disks := c.disks.List(ctx, &computepb.ListDisksRequest{Project: project, Zone: zone, Filter: filter}, d.retry())
	for {
		x, err := disks.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return "", "", err
		}
		if x.GetSourceSnapshot() != "" {
			disk = x.GetName()
		}
	}
	vms := c.instances.List(ctx, &computepb.ListInstancesRequest{Project: project, Zone: zone, Filter: filter}, d.retry())
	for {
		x, err := vms.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return "", "", err
		}
		vm = x.GetName()
	}
	return disk, vm, nil
}

func (d *Driver) workerInstance(name, zone, disk string, labels map[string]string, extra ...*computepb.Items) *computepb.Instance {
	w := d.cfg.Worker
	image, machine, network := w.Image, w.MachineType, w.Network
	if image == "" {
		image = DefaultWorkerImage
	}
	if machine == "" {
		machine = DefaultWorkerMachineType
	}
	if network == "" {
		network = "global/networks/default"
	}
	nic := &computepb.NetworkInterface{Network: proto.String(network)} // no access config: no external IP
	if w.Subnetwork != "" {
		nic.Subnetwork = proto.String(w.Subnetwork)
	}
	item := func(k, v string) *computepb.Items {
		return &computepb.Items{Key: proto.String(k), Value: proto.String(v)}
	}
	return &computepb.Instance{
		Name: proto.String(name), MachineType: proto.String("zones/" + zone + "/machineTypes/" + machine), Labels: labels,
		Description: proto.String("acquire: digest worker, deleted when done"),
		Disks: []*computepb.AttachedDisk{
			{Boot: proto.Bool(true), AutoDelete: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(image)}},
			{Source: proto.String(disk), Mode: proto.String("READ_ONLY"), DeviceName: proto.String(deviceName), AutoDelete: proto.Bool(false)},
		},
		NetworkInterfaces: []*computepb.NetworkInterface{nic},
		ShieldedInstanceConfig: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true), EnableVtpm: proto.Bool(true),
			EnableIntegrityMonitoring: proto.Bool(true)},
		Metadata: &computepb.Metadata{Items: append([]*computepb.Items{
			item("startup-script", digestScript), item("enable-guest-attributes", "TRUE"),
			item("acquire-block-size", strconv.Itoa(blockSize)), item("acquire-device", deviceName),
		}, extra...)},
	}
}

// workerError is a worker that stopped without digests, with its own word on why.
type workerError struct{ vm, msg string }

func (e *workerError) Error() string { return fmt.Sprintf("digest worker %s: %s", e.vm, e.msg) }

// awaitDigest polls the worker's guest attributes until it publishes its digests or fails, within the
// worker timeout, reporting its progress.
func (d *Driver) awaitDigest(ctx context.Context, c *clients, project, zone, vm string, req driver.DigestRequest) (driver.Digest, error) {
	timeout := d.cfg.Worker.Timeout
	if timeout <= 0 {
		timeout = 6 * time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pause := d.cfg.PollInterval
	for {
		attrs, err := d.guestAttributes(ctx, c, project, zone, vm)
		if err != nil {
			return driver.Digest{}, err
		}
		if req.Progress != nil && attrs["size"] != "" {
			done, _ := strconv.ParseInt(attrs["progress"], 10, 64)
			size, _ := strconv.ParseInt(attrs["size"], 10, 64)
			req.Progress(done, size)
		}
		switch attrs["status"] {
		case "done":
			return digestOf(vm, attrs, expectedSize(req))
		case "failed":
			return driver.Digest{}, &workerError{vm: vm, msg: attrs["error"]}
		}
		inst, err := c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: vm}, d.retry())
		if err != nil {
			return driver.Digest{}, err
		}
		if s := inst.GetStatus(); s == "TERMINATED" || s == "STOPPED" {
			// Its last attributes may have landed after the read above.
			if attrs, err = d.guestAttributes(ctx, c, project, zone, vm); err == nil && attrs["status"] == "done" {
				return digestOf(vm, attrs, expectedSize(req))
			}
			return driver.Digest{}, &workerError{vm: vm, msg: "stopped (" + s + ") without publishing its digests: " + attrs["error"]}
		}
		select {
		case <-ctx.Done():
			return driver.Digest{}, fmt.Errorf("digest worker %s: no digests after %s: %w", vm, timeout, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second, 20*d.cfg.PollInterval)
	}
}

func (d *Driver) guestAttributes(ctx context.Context, c *clients, project, zone, vm string) (map[string]string, error) {
	ga, err := c.instances.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: project, Zone: zone, Instance: vm,
		QueryPath: proto.String("acquire/")}, d.retry())
	if isStatus(err, http.StatusNotFound) {
		return map[string]string{}, nil // nothing published yet
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range ga.GetQueryValue().GetItems() {
		if e.GetNamespace() == "acquire" {
			out[e.GetKey()] = e.GetValue()
		}
	}
	return out, nil
}

// expectedSize is the size of the disk the worker reads: the evidence snapshot's disk size, or the
// source disk's when the snapshot does not say.
func expectedSize(req driver.DigestRequest) int64 {
	if req.Snapshot.SizeBytes > 0 {
		return req.Snapshot.SizeBytes
	}
	return req.Volume.SizeBytes
}

// digestOf takes a worker's published digests when they hold together and cover the whole disk: a
// size other than the snapshot's is a wrong or truncated device, whose digests would be coherent but
// not those of the evidence.
func digestOf(vm string, a map[string]string, want int64) (driver.Digest, error) {
	size, err1 := strconv.ParseInt(a["size"], 10, 64)
	blocks, err2 := strconv.ParseInt(a["blocks"], 10, 64)
	bs, err3 := strconv.ParseInt(a["block-size"], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || !isHexDigest(a["image-sha256"]) || !isHexDigest(a["blocklist-sha256"]) ||
		bs != blockSize || blocks != (size+bs-1)/bs {
		return driver.Digest{}, &workerError{vm: vm, msg: fmt.Sprintf("published digests that do not hold together: %v", a)}
	}
	if want > 0 && size != want {
		return driver.Digest{}, &workerError{vm: vm, msg: fmt.Sprintf("read %d bytes, but the evidence snapshot's disk is %d bytes: "+
			"the device it read is not that disk, or was cut short; its digests are not the evidence's", size, want)}
	}
	return driver.Digest{ImageSHA256: a["image-sha256"], BlockListSHA256: a["blocklist-sha256"], SizeBytes: size, BlockSize: bs,
		ListedBlocks: blocks, ReadBytes: size}, nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
