package gcpsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// projectIDRE is the rule for project IDs.
// https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin
var projectIDRE = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

var defaultZones = []string{"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"}

// digest names the scenario a saved state belongs to: the SHA-256 of its
// JSON encoding without faults, so that a rehearsal may change faults
// between restarts.
func (sc *Scenario) digest() (string, error) {
	c := *sc
	c.Faults = Faults{}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// load builds the state the scenario describes, refusing what the cloud
// would not have.
func (s *Server) load(sc *Scenario) error {
	now := s.now()
	for _, u := range sc.Users {
		if err := s.loadUser(u); err != nil {
			return fmt.Errorf("user %q: %w", u.Email, err)
		}
	}
	for _, sp := range sc.Projects {
		if err := s.loadProject(sc, sp); err != nil {
			return fmt.Errorf("project %q: %w", sp.ID, err)
		}
	}
	// Instances and images refer to disks; load them once all projects are in.
	for _, sp := range sc.Projects {
		p := s.st.projects[sp.ID]
		for _, si := range sp.Instances {
			if err := s.loadInstance(p, si, now); err != nil {
				return fmt.Errorf("project %q: instance %q: %w", sp.ID, si.Name, err)
			}
		}
		for _, im := range sp.Images {
			if err := s.loadImage(p, im, now); err != nil {
				return fmt.Errorf("project %q: image %q: %w", sp.ID, im.Name, err)
			}
		}
	}
	return nil
}

func (s *Server) loadProject(sc *Scenario, sp ScenarioProject) error {
	if !projectIDRE.MatchString(sp.ID) {
		return errors.New("the ID must be 6 to 30 lowercase letters, digits or hyphens, starting with a letter")
	}
	if _, dup := s.st.projects[sp.ID]; dup {
		return errors.New("the project is listed twice")
	}
	if sp.Number <= 0 {
		return errors.New("number (the project number, a positive integer) is required")
	}
	for _, other := range s.st.projects {
		if other.number == sp.Number {
			return fmt.Errorf("number %d is also project %q's", sp.Number, other.id)
		}
	}
	p := &project{id: sp.ID, number: sp.Number, kmsKeys: map[string]*kmsKey{}, metadata: sp.Metadata, buckets: sp.Buckets}
	p.zones = slices.Clone(sp.Zones)
	if len(p.zones) == 0 {
		p.zones = slices.Clone(defaultZones)
		for _, d := range sp.Disks {
			p.zones = append(p.zones, d.Zone)
		}
		for _, in := range sp.Instances {
			p.zones = append(p.zones, in.Zone)
		}
		slices.Sort(p.zones)
		p.zones = slices.Compact(p.zones)
	}
	for _, b := range sp.IAM {
		cb, err := compileBinding(b)
		if err != nil {
			return err
		}
		p.iam = append(p.iam, cb)
	}
	if op := sp.OrgPolicy; op != nil && op.StorageResourceUseRestrictions != nil {
		p.storageUseAllowed = append([]string{sp.ID}, op.StorageResourceUseRestrictions.AllowedProjects...)
	}
	for _, k := range sp.KMSKeys {
		if !strings.HasPrefix(k.Name, "projects/"+sp.ID+"/locations/") || !kmsKeyRE.MatchString(k.Name) {
			return fmt.Errorf("KMS key %q: name it projects/%s/locations/L/keyRings/R/cryptoKeys/K", k.Name, sp.ID)
		}
		p.kmsKeys[k.Name] = &kmsKey{name: k.Name, encrypterDecrypters: k.EncrypterDecrypters}
	}
	s.st.projects[sp.ID] = p
	for _, sa := range sp.ServiceAccounts {
		if err := s.loadServiceAccount(p, sa); err != nil {
			return fmt.Errorf("service account %q: %w", sa.Email, err)
		}
	}
	for _, d := range sp.Disks {
		if err := s.loadDisk(sc, p, d); err != nil {
			return fmt.Errorf("disk %q: %w", d.Name, err)
		}
	}
	for _, b := range sp.Buckets {
		if err := s.createBucket(b); err != nil {
			return fmt.Errorf("bucket %q: %w", b, err)
		}
	}
	return nil
}

var kmsKeyRE = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// gcloudADCScopes are the scopes gcloud auth application-default login asks for by default.
// https://cloud.google.com/sdk/gcloud/reference/auth/application-default/login
var gcloudADCScopes = []string{"openid", userinfoEmailScope, cloudPlatformScope}

func (s *Server) loadUser(u ScenarioUser) error {
	at := strings.IndexByte(u.Email, '@')
	if at <= 0 || at == len(u.Email)-1 || strings.HasSuffix(u.Email, ".gserviceaccount.com") {
		return errors.New("a user is an email address (not a service account's)")
	}
	if _, dup := s.st.users[u.Email]; dup {
		return errors.New("listed twice")
	}
	scopes := u.Scopes
	if len(scopes) == 0 {
		scopes = gcloudADCScopes
	}
	s.st.users[u.Email] = &userAccount{email: u.Email, scopes: slices.Clone(scopes)}
	return nil
}

func (s *Server) loadServiceAccount(p *project, sa ScenarioServiceAccount) error {
	if !strings.HasSuffix(sa.Email, "@"+p.id+".iam.gserviceaccount.com") {
		return fmt.Errorf("a service account of project %s is NAME@%s.iam.gserviceaccount.com", p.id, p.id)
	}
	if _, dup := s.st.serviceAccounts[sa.Email]; dup {
		return errors.New("listed twice")
	}
	for _, m := range sa.TokenCreators {
		if !validMember(m) {
			return fmt.Errorf("token creator %q: write it as serviceAccount:EMAIL", m)
		}
	}
	acct := &serviceAccount{email: sa.Email, project: p.id, displayName: sa.DisplayName, tokenCreators: sa.TokenCreators,
		uniqueID: strconv.FormatUint(s.ids.resourceID(), 10)}
	if sa.PrivateKeyPEM != "" {
		key, err := parseRSAKey(sa.PrivateKeyPEM)
		if err != nil {
			return fmt.Errorf("privateKeyPem: %w", err)
		}
		acct.key = key
	} else {
		// Generated at each start unless a saved state brings back the key
		// cloudsim wrote into the key file.
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		acct.key = key
	}
	acct.keyID = keyID(acct.key)
	s.st.serviceAccounts[sa.Email] = acct
	return nil
}

func parseRSAKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// keyID is the private_key_id of a key file: a hex digest of the public key.
func keyID(k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:20])
}

func (s *Server) loadDisk(sc *Scenario, p *project, d ScenarioDisk) error {
	if e := validName("name", d.Name); e != nil {
		return errors.New(e.Message)
	}
	if !slices.Contains(p.zones, d.Zone) {
		return fmt.Errorf("zone %q is not one of the project's zones %v", d.Zone, p.zones)
	}
	k := key(p.id, d.Zone, d.Name)
	if _, dup := s.st.disks[k]; dup {
		return errors.New("listed twice")
	}
	if e := validLabels("labels", d.Labels); e != nil {
		return errors.New(e.Message)
	}
	size := d.SizeGb
	if size <= 0 {
		size = 10
	}
	var c *content
	var err error
	switch {
	case d.Image != "" && d.Synthetic != nil:
		return errors.New("give image or synthetic, not both")
	case d.Image != "":
		path := d.Image
		if !filepath.IsAbs(path) {
			path = filepath.Join(sc.baseDir, path)
		}
		c, err = openImageContent(k, path, size)
	case d.Synthetic != nil:
		c, err = syntheticContent(k, size, d.Synthetic.Blocks, d.Synthetic.Seed)
	default:
		c = emptyContent(size)
		c.origin = k
	}
	if err != nil {
		return err
	}
	s.scenarioContent[k] = c
	pb := s.newDiskProto(p.id, d.Zone, d.Name, c.sizeGb, d.Type, d.Labels, s.now())
	if d.KMSKeyName != "" {
		pb.DiskEncryptionKey = &computepb.CustomerEncryptionKey{KmsKeyName: proto.String(d.KMSKeyName + "/cryptoKeyVersions/1")}
	}
	s.st.disks[k] = &diskRes{pb: pb, project: p.id, zone: d.Zone, content: c, scenario: true}
	return nil
}

func (s *Server) loadInstance(p *project, si ScenarioInstance, now time.Time) error {
	if e := validName("name", si.Name); e != nil {
		return errors.New(e.Message)
	}
	if !slices.Contains(p.zones, si.Zone) {
		return fmt.Errorf("zone %q is not one of the project's zones", si.Zone)
	}
	k := key(p.id, si.Zone, si.Name)
	if _, dup := s.st.instances[k]; dup {
		return errors.New("listed twice")
	}
	if e := validLabels("labels", si.Labels); e != nil {
		return errors.New(e.Message)
	}
	status := si.Status
	if status == "" {
		status = "RUNNING"
	}
	st, ok := computepb.Instance_Status_value[status]
	if !ok {
		return fmt.Errorf("status %q is not an instance status", status)
	}
	machine := si.MachineType
	if machine == "" {
		machine = "e2-medium"
	}
	pb := &computepb.Instance{
		Kind:              proto.String("compute#instance"),
		Id:                proto.Uint64(s.ids.resourceID()),
		Name:              proto.String(si.Name),
		Zone:              proto.String(zoneURL(p.id, si.Zone)),
		MachineType:       proto.String(zoneURL(p.id, si.Zone) + "/machineTypes/" + machine),
		Status:            proto.String(computepb.Instance_Status(st).String()),
		CreationTimestamp: proto.String(timestamp(now)),
		SelfLink:          proto.String(instanceURL(p.id, si.Zone, si.Name)),
		Labels:            si.Labels,
		LabelFingerprint:  proto.String(labelFingerprint(si.Labels)),
		Metadata:          metadataProto(si.Metadata),
		Tags:              &computepb.Tags{Items: si.Tags, Fingerprint: proto.String(labelFingerprint(nil))},
		CpuPlatform:       proto.String("Intel Broadwell"),
		Fingerprint:       proto.String(labelFingerprint(map[string]string{"instance": si.Name})),
	}
	if sa := si.ServiceAccount; sa != nil {
		pb.ServiceAccounts = []*computepb.ServiceAccount{{Email: proto.String(sa.Email), Scopes: sa.Scopes}}
	}
	for i, nic := range si.NetworkInterfaces {
		n := &computepb.NetworkInterface{Name: proto.String(fmt.Sprintf("nic%d", i)), NetworkIP: optional(nic.NetworkIP)}
		if nic.Network != "" {
			n.Network = proto.String(projectURL(p.id) + "/global/networks/" + nic.Network)
		}
		if nic.Subnetwork != "" {
			n.Subnetwork = proto.String(regionURL(p.id, zoneRegion(si.Zone)) + "/subnetworks/" + nic.Subnetwork)
		}
		if nic.ExternalIP != "" {
			n.AccessConfigs = []*computepb.AccessConfig{{Kind: proto.String("compute#accessConfig"), Type: proto.String("ONE_TO_ONE_NAT"),
				Name: proto.String("External NAT"), NatIP: proto.String(nic.ExternalIP), NetworkTier: proto.String("PREMIUM")}}
		}
		pb.NetworkInterfaces = append(pb.NetworkInterfaces, n)
	}
	for i, ad := range si.Disks {
		d := s.st.disks[key(p.id, si.Zone, ad.Disk)]
		if d == nil {
			return fmt.Errorf("disk %q is not a disk of zone %s", ad.Disk, si.Zone)
		}
		mode := ad.Mode
		if mode == "" {
			mode = "READ_WRITE"
		}
		if mode != "READ_WRITE" && mode != "READ_ONLY" {
			return fmt.Errorf("disk %q: mode %q is READ_WRITE or READ_ONLY", ad.Disk, mode)
		}
		dev := ad.DeviceName
		if dev == "" {
			dev = ad.Disk
		}
		pb.Disks = append(pb.Disks, attachedDisk(d, int32(i), dev, mode, ad.Boot, ad.AutoDelete))
		d.pb.Users = append(d.pb.Users, pb.GetSelfLink())
	}
	if si.LocalSSDs < 0 || si.LocalSSDs > 24 {
		return fmt.Errorf("localSsds %d: an instance has 0 to 24 local SSDs", si.LocalSSDs)
	}
	for i := range si.LocalSSDs {
		pb.Disks = append(pb.Disks, localSSD(int32(len(pb.Disks)), i))
	}
	s.st.instances[k] = &instanceRes{pb: pb, project: p.id, zone: si.Zone, guestAttributes: map[string]map[string]string{}}
	return nil
}

func attachedDisk(d *diskRes, index int32, device, mode string, boot, autoDelete bool) *computepb.AttachedDisk {
	return &computepb.AttachedDisk{
		Kind: proto.String("compute#attachedDisk"), Type: proto.String("PERSISTENT"), Mode: proto.String(mode),
		Source: proto.String(d.pb.GetSelfLink()), DeviceName: proto.String(device), Index: proto.Int32(index),
		Boot: proto.Bool(boot), AutoDelete: proto.Bool(autoDelete), Interface: proto.String("SCSI"),
		DiskSizeGb: proto.Int64(d.pb.GetSizeGb()),
	}
}

// localSSD is the AttachedDisk of a local SSD: type SCRATCH, no source, 375 GB
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances#AttachedDisk,
// https://cloud.google.com/compute/docs/disks/local-ssd).
func localSSD(index int32, n int) *computepb.AttachedDisk {
	return &computepb.AttachedDisk{
		Kind: proto.String("compute#attachedDisk"), Type: proto.String("SCRATCH"), Mode: proto.String("READ_WRITE"),
		DeviceName: proto.String(fmt.Sprintf("local-ssd-%d", n)), Index: proto.Int32(index), AutoDelete: proto.Bool(true),
		Interface: proto.String("NVME"), DiskSizeGb: proto.Int64(375),
	}
}

func (s *Server) loadImage(p *project, im ScenarioImage, now time.Time) error {
	if e := validName("name", im.Name); e != nil {
		return errors.New(e.Message)
	}
	pb := &computepb.Image{
		Kind: proto.String("compute#image"), Id: proto.Uint64(s.ids.resourceID()), Name: proto.String(im.Name),
		SelfLink: proto.String(imageURL(p.id, im.Name)), CreationTimestamp: proto.String(timestamp(now)),
		Status: proto.String("READY"), Labels: im.Labels, LabelFingerprint: proto.String(labelFingerprint(im.Labels)),
	}
	switch {
	case im.SourceDisk != "":
		r, ok := parseRef(im.SourceDisk, "disks", p.id, "")
		d := s.st.disks[r.key()]
		if !ok || d == nil {
			return fmt.Errorf("sourceDisk %q is not a scenario disk (zones/Z/disks/D)", im.SourceDisk)
		}
		pb.SourceDisk, pb.SourceDiskId, pb.DiskSizeGb = proto.String(d.pb.GetSelfLink()), proto.String(strconv.FormatUint(d.pb.GetId(), 10)), proto.Int64(d.pb.GetSizeGb())
	case im.SourceSnapshot != "":
		pb.SourceSnapshot = proto.String(snapshotURL(p.id, lastSegment(im.SourceSnapshot)))
	default:
		return errors.New("give sourceDisk or sourceSnapshot")
	}
	s.st.images[key(p.id, im.Name)] = &imageRes{pb: pb, project: p.id, public: im.Public}
	return nil
}

func (s *Server) newDiskProto(projectID, zone, name string, sizeGb int64, diskType string, labels map[string]string, now time.Time) *computepb.Disk {
	if diskType == "" {
		diskType = "pd-balanced"
	}
	return &computepb.Disk{
		Kind: proto.String("compute#disk"), Id: proto.Uint64(s.ids.resourceID()), Name: proto.String(name),
		Zone: proto.String(zoneURL(projectID, zone)), SizeGb: proto.Int64(sizeGb),
		Type:   proto.String(zoneURL(projectID, zone) + "/diskTypes/" + diskType),
		Status: proto.String("READY"), SelfLink: proto.String(diskURL(projectID, zone, name)),
		CreationTimestamp: proto.String(timestamp(now)), Labels: labels, LabelFingerprint: proto.String(labelFingerprint(labels)),
		PhysicalBlockSizeBytes: proto.Int64(4096), Architecture: proto.String("X86_64"),
	}
}

func metadataProto(m map[string]string) *computepb.Metadata {
	md := &computepb.Metadata{Kind: proto.String("compute#metadata"), Fingerprint: proto.String(labelFingerprint(m))}
	for _, k := range sortedKeys(m) {
		md.Items = append(md.Items, &computepb.Items{Key: proto.String(k), Value: proto.String(m[k])})
	}
	return md
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
