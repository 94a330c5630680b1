package gcp

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/acquire-forensics/acquire/providers/driver"
)

const gib = 1 << 30

// Describe resolves instances (every attached persistent disk, the boot disk included) and lone disks
// of the source project, and captures each instance's configuration: the instance (service accounts
// and scopes, network interfaces, tags, labels, its disks' attachment) with its metadata keys but not
// their values, which may hold secrets (ssh-keys, startup scripts with tokens), and its disks.
// Names are given in the target's zone, or as zones/Z/instances/I or projects/P/zones/Z/... names.
func (d *Driver) Describe(ctx context.Context, t driver.Target) ([]driver.Workload, error) {
	zone := t.Location
	if zone == "" {
		zone = d.cfg.Zone
	}
	c := d.sides[driver.Source]
	var workloads []driver.Workload
	for _, name := range t.Workloads {
		r, err := d.target(name, "instances", zone)
		if err != nil {
			return nil, err
		}
		inst, err := c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: r.project, Zone: r.zone, Instance: r.name}, d.retry())
		if err != nil {
			return nil, err
		}
		w := driver.Workload{ID: instanceID(r.project, r.zone, r.name), Location: r.zone}
		var disks []*computepb.Disk
		d.noteSkipped(w.ID, localSSDs(w.ID, inst))
		for _, a := range inst.GetDisks() {
			if a.GetType() == "SCRATCH" {
				continue // a local SSD cannot be snapshotted: told as a finding, named in the instance artifact
			}
			dr, ok := parseRef(a.GetSource())
			if !ok {
				return nil, fmt.Errorf("instance %s: attached disk %q is not a zonal persistent disk", w.ID, a.GetSource())
			}
			disk, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: dr.project, Zone: dr.zone, Disk: dr.name}, d.retry())
			if err != nil {
				return nil, err
			}
			v := volumeOf(disk, dr)
			v.Workload, v.Device, v.Boot = w.ID, a.GetDeviceName(), a.GetBoot()
			w.Volumes = append(w.Volumes, v)
			disks = append(disks, disk)
		}
		w.Artifacts = append(w.Artifacts, protoArtifact(fmt.Sprintf("gcp/%s/instance.json", r.name), withoutMetadataValues(inst)))
		w.Artifacts = append(w.Artifacts, disksArtifact(fmt.Sprintf("gcp/%s/disks.json", r.name), disks))
		workloads = append(workloads, w)
	}
	for _, name := range t.Volumes {
		r, err := d.target(name, "disks", zone)
		if err != nil {
			return nil, err
		}
		disk, err := c.disks.Get(ctx, &computepb.GetDiskRequest{Project: r.project, Zone: r.zone, Disk: r.name}, d.retry())
		if err != nil {
			return nil, err
		}
		v := volumeOf(disk, r)
		workloads = append(workloads, driver.Workload{Location: r.zone, Volumes: []driver.Volume{v},
			Artifacts: []driver.Artifact{protoArtifact(fmt.Sprintf("gcp/%s/disk.json", r.name), disk)}})
	}
	return workloads, nil
}

// target resolves a name given on the command line: NAME in the zone, zones/Z/KIND/NAME, or a full
// resource name in the source project.
func (d *Driver) target(name, kind, zone string) (ref, error) {
	if r, ok := parseRef(name); ok && r.kind == kind {
		if r.project != d.cfg.Project {
			return ref{}, invalidf("%s is in project %s, not the source project %s", name, r.project, d.cfg.Project)
		}
		return r, nil
	}
	if r, ok := parseRef("projects/" + d.cfg.Project + "/" + name); ok && r.kind == kind {
		return r, nil
	}
	if !ValidName(name) {
		return ref{}, invalidf("%q is not a Compute Engine %s name (lowercase letters, digits and -, at most 63)", name, strings.TrimSuffix(kind, "s"))
	}
	if zone == "" {
		return ref{}, invalidf("%s %s: no zone (give --zone, or name it zones/ZONE/%s/%s)", strings.TrimSuffix(kind, "s"), name, kind, name)
	}
	return ref{project: d.cfg.Project, zone: zone, kind: kind, name: name}, nil
}

func volumeOf(disk *computepb.Disk, r ref) driver.Volume {
	v := driver.Volume{ID: diskID(r.project, r.zone, r.name), Name: r.name, Location: r.zone, SizeBytes: disk.GetSizeGb() * gib,
		KeyKind: driver.KeyProviderDefault, Type: lastSegment(disk.GetType())}
	if k := disk.GetDiskEncryptionKey(); k.GetKmsKeyName() != "" {
		v.KeyKind, v.KeyID = driver.KeyCustomer, k.GetKmsKeyName()
	}
	return v
}

// withoutMetadataValues keeps an instance's metadata keys and drops their values: a value may be a
// secret (a token in a startup script), and even a digest of a short one can be guessed.
func withoutMetadataValues(inst *computepb.Instance) *computepb.Instance {
	out := proto.Clone(inst).(*computepb.Instance)
	for _, it := range out.GetMetadata().GetItems() {
		it.Value = nil
	}
	return out
}

func protoArtifact(name string, m proto.Message) driver.Artifact {
	data, _ := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	return driver.Artifact{Name: name, Data: append(data, '\n'), MediaType: "application/json"}
}

func disksArtifact(name string, disks []*computepb.Disk) driver.Artifact {
	list := &computepb.DiskList{Items: disks}
	return protoArtifact(name, list)
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// localSSDs are an instance's local SSDs, which no snapshot can take: "You can't create snapshots of
// Local SSD disks", and their data lives only as long as the VM runs
// (https://cloud.google.com/compute/docs/disks/local-ssd). They are told as findings, so that the
// responder copies them from inside the guest before the VM is stopped, if they matter.
func localSSDs(instance string, inst *computepb.Instance) []driver.Finding {
	var out []driver.Finding
	for _, a := range inst.GetDisks() {
		if a.GetType() != "SCRATCH" {
			continue
		}
		dev := a.GetDeviceName()
		out = append(out, driver.Finding{Kind: driver.FindingNotAcquired, Resource: instance, VolumeID: instance + "/localSSD/" + dev,
			Detail: fmt.Sprintf("instance %s has a local SSD %q (%d GB, %s, index %d): Compute Engine cannot snapshot a local SSD, so it is NOT acquired, "+
				"and its data is lost when the VM stops; copy it from inside the guest (dd to an attached persistent disk) before the VM is stopped, if it matters",
				instance, dev, a.GetDiskSizeGb(), a.GetInterface(), a.GetIndex())})
	}
	return out
}

// noteSkipped remembers what Describe left out of an instance, for Exposure to tell.
func (d *Driver) noteSkipped(instance string, f []driver.Finding) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skipped[instance] = f
}

// skippedOf is what Describe left out of the instances of these disks. An instance it did not
// describe (a resumed run) is read again.
func (d *Driver) skippedOf(ctx context.Context, vols []driver.Volume) ([]driver.Finding, error) {
	var out []driver.Finding
	seen := map[string]bool{}
	for _, v := range vols {
		if v.Workload == "" || seen[v.Workload] {
			continue
		}
		seen[v.Workload] = true
		d.mu.Lock()
		f, known := d.skipped[v.Workload]
		d.mu.Unlock()
		if !known {
			r, ok := parseRef(v.Workload)
			if !ok || r.kind != "instances" {
				return nil, fmt.Errorf("gcp: %q is not an instance name", v.Workload)
			}
			inst, err := d.sides[driver.Source].instances.Get(ctx, &computepb.GetInstanceRequest{Project: r.project, Zone: r.zone, Instance: r.name}, d.retry())
			if err != nil {
				return nil, err
			}
			f = localSSDs(v.Workload, inst)
			d.noteSkipped(v.Workload, f)
		}
		out = append(out, f...)
	}
	return out, nil
}
