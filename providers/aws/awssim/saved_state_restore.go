package awssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// ErrStateRefused is wrapped by New's error when Options.State cannot be
// restored: it is no state document, of another version, saved for another
// scenario or over other disk content, or inconsistent. The message says
// which. Starting without the state starts from the scenario alone.
var ErrStateRefused = errors.New("saved state refused")

// restore applies a saved state over the freshly loaded scenario. Nothing
// of a refused document is applied.
func (s *Server) restore(r io.Reader) error {
	doc, err := readSavedState(r)
	if err != nil {
		return err
	}
	if doc.Scenario != s.scenarioDigest {
		return fmt.Errorf("it was saved for another scenario (%s; this one is %s): start with the scenario it was saved for",
			doc.Scenario, s.scenarioDigest)
	}
	disks := s.diskDigests()
	for id, want := range doc.Disks {
		if disks[id] != want {
			return fmt.Errorf("the content of volume %s (its disk image) has changed since the state was saved: restore the original image", id)
		}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	summary, err := s.applySavedState(doc, now)
	if err != nil {
		return err
	}
	s.restored = summary
	return nil
}

// readSavedState decodes a document, checking its format and version before
// anything else so that a newer document is refused for its version, not
// for the fields this version does not know.
func readSavedState(r io.Reader) (*savedState, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	var header struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &header); err != nil {
		return nil, fmt.Errorf("not a valid state document (corrupt or truncated): %w", err)
	}
	if header.Format != stateFormat {
		return nil, fmt.Errorf("not an awssim state document (format %q, want %q)", header.Format, stateFormat)
	}
	if header.Version != stateVersion {
		return nil, fmt.Errorf("version %d is not supported (this simulator reads version %d): use the simulator that saved it",
			header.Version, stateVersion)
	}
	var doc savedState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a valid version %d document: %w", stateVersion, err)
	}
	return &doc, nil
}

// applySavedState replaces the loaded state's changeable parts with the
// document's. Everything is built and checked first and installed at the end.
// Callers hold s.mu.
func (s *Server) applySavedState(doc *savedState, now time.Time) (*StateSummary, error) {
	st := s.st
	summary := &StateSummary{SavedAt: doc.SavedAt, Snapshots: len(doc.Snapshots), Grants: len(doc.Grants)}

	keys := map[string]*kmsKey{}
	for _, sk := range doc.Keys {
		k, err := s.restoredKey(sk)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", sk.ID, err)
		}
		if keys[k.id] != nil {
			return nil, fmt.Errorf("key %s saved twice", k.id)
		}
		keys[k.id] = k
		if !k.awsManaged && st.keys[k.id] == nil {
			summary.Keys++
		}
	}
	aliases := map[aliasRef]*kmsAlias{}
	for _, a := range doc.Aliases {
		ref := aliasRef{a.AccountID, a.Region, a.Name}
		if k := keys[a.KeyID]; k == nil || k.accountID != a.AccountID || k.region != a.Region {
			return nil, fmt.Errorf("alias %s names key %s, which is not saved in its account and region", a.Name, a.KeyID)
		}
		if aliases[ref] != nil {
			return nil, fmt.Errorf("alias %s saved twice in %s %s", a.Name, a.AccountID, a.Region)
		}
		aliases[ref] = &kmsAlias{ref: ref, arn: aliasARN(a.Region, a.AccountID, a.Name), keyID: a.KeyID, created: a.Created}
	}
	grants := map[string]*kmsGrant{}
	for _, g := range doc.Grants {
		if keys[g.KeyID] == nil || grants[g.ID] != nil {
			return nil, fmt.Errorf("grant %s: key %s is not saved, or the grant is saved twice", g.ID, g.KeyID)
		}
		grants[g.ID] = &kmsGrant{seq: g.Seq, id: g.ID, token: g.Token, keyID: g.KeyID, name: g.Name,
			grantee: g.Grantee, retiringPrincipal: g.RetiringPrincipal, operations: slices.Clone(g.Operations),
			issuingAccount: g.IssuingAccount, created: g.Created}
	}

	// Scenario volumes stay unless the document says otherwise: no API
	// deletes a volume.
	volumes := maps.Clone(st.volumes)
	for _, sv := range doc.Volumes {
		v, err := s.restoredVolume(sv)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", sv.ID, err)
		}
		if s.scenarioDisks[v.id] == nil {
			summary.Volumes++
		}
		volumes[v.id] = v
	}
	snapshots := map[string]*snapshot{}
	for _, ss := range doc.Snapshots {
		snap, err := s.restoredSnapshot(ss)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", ss.ID, err)
		}
		if snapshots[snap.id] != nil {
			return nil, fmt.Errorf("snapshot %s saved twice", snap.id)
		}
		snapshots[snap.id] = snap
	}

	// Instances and accounts come from the scenario; only what can change
	// on them is saved.
	type instanceChange struct {
		in  *instance
		doc savedInstance
	}
	var instanceChanges []instanceChange
	for _, si := range doc.Instances {
		in := st.instances[si.ID]
		if in == nil {
			return nil, fmt.Errorf("instance %s is not in the scenario", si.ID)
		}
		for _, id := range si.Devices {
			if v := volumes[id]; v == nil || v.attachment == nil || v.attachment.instanceID != in.id {
				return nil, fmt.Errorf("instance %s lists volume %s, which is not saved as attached to it", in.id, id)
			}
		}
		instanceChanges = append(instanceChanges, instanceChange{in, si})
	}
	for _, sa := range doc.Accounts {
		if st.accounts[sa.ID] == nil {
			return nil, fmt.Errorf("account %s is not in the scenario", sa.ID)
		}
	}
	sessions := make([]*credential, 0, len(doc.Sessions))
	for _, ss := range doc.Sessions {
		c, err := s.restoredSession(ss)
		if err != nil {
			return nil, fmt.Errorf("session %d: %w", ss.Number, err)
		}
		if now.Before(c.expires) {
			summary.Sessions++
		}
		sessions = append(sessions, c)
	}

	// Everything holds together: install it.
	st.keys, st.aliases, st.grants, st.volumes, st.snapshots = keys, aliases, grants, volumes, snapshots
	for _, c := range instanceChanges {
		c.in.launched, c.in.tags, c.in.devices = c.doc.Launched, tagsOf(c.doc.Tags), slices.Clone(c.doc.Devices)
	}
	for _, sa := range doc.Accounts {
		acct := st.accounts[sa.ID]
		clear(acct.encryptionByDefault)
		for _, region := range sa.EncryptionByDefault {
			acct.encryptionByDefault[region] = true
		}
	}
	for _, c := range sessions {
		st.credentials[c.accessKeyID] = c
		st.noteDeadline(c.expires)
	}
	for _, t := range doc.ClientTokens {
		st.clientTokens[t.Key] = clientTokenRecord{fingerprint: t.Fingerprint, resourceID: t.ResourceID}
	}
	for _, k := range keys {
		if !k.deletion.IsZero() {
			st.noteDeadline(k.deletion)
		}
	}
	s.ids.advanceCounters(doc.Counters)
	st.seq = max(st.seq, doc.Seq)
	return summary, nil
}

// restoredDisk finds the content a saved disk names. A disk of the scenario
// volume's own size is that volume's disk itself.
func (s *Server) restoredDisk(sd savedDisk) (*disk, error) {
	if sd.SizeGiB < 1 {
		return nil, fmt.Errorf("disk size %d GiB", sd.SizeGiB)
	}
	if sd.Volume == "" {
		return emptyDisk(sd.SizeGiB), nil
	}
	d := s.scenarioDisks[sd.Volume]
	switch {
	case d == nil:
		return nil, fmt.Errorf("its content comes from volume %s, which the scenario does not define", sd.Volume)
	case d.sizeGiB == sd.SizeGiB:
		return d, nil
	case sd.SizeGiB < d.sizeGiB:
		return nil, fmt.Errorf("a %d GiB disk cannot hold the %d GiB of volume %s", sd.SizeGiB, d.sizeGiB, sd.Volume)
	}
	return d.resized(sd.SizeGiB), nil
}

func (s *Server) restoredVolume(sv savedVolume) (*volume, error) {
	if e := checkVolumeID(sv.ID); e != nil {
		return nil, e
	}
	if s.st.accounts[sv.OwnerID] == nil {
		return nil, fmt.Errorf("owner %s is not in the scenario", sv.OwnerID)
	}
	d, err := s.restoredDisk(sv.Disk)
	if err != nil {
		return nil, err
	}
	v := &volume{
		seq: sv.Seq, id: sv.ID, ownerID: sv.OwnerID, region: sv.Region, az: sv.AZ, volumeType: sv.VolumeType,
		iops: sv.Iops, disk: d, encrypted: sv.Encrypted, kmsKeyARN: sv.KMSKeyARN, snapshotID: sv.SnapshotID,
		created: sv.Created, visibleAt: sv.VisibleAt, tags: tagsOf(sv.Tags), failure: sv.Failure,
	}
	if a := sv.Attachment; a != nil {
		if s.st.instances[a.InstanceID] == nil {
			return nil, fmt.Errorf("attached to instance %s, which is not in the scenario", a.InstanceID)
		}
		v.attachment = &attachment{instanceID: a.InstanceID, device: a.Device,
			deleteOnTermination: a.DeleteOnTermination, attached: a.Attached}
	}
	return v, nil
}

func (s *Server) restoredSnapshot(ss savedSnapshot) (*snapshot, error) {
	if e := checkSnapshotID(ss.ID); e != nil {
		return nil, e
	}
	if s.st.accounts[ss.OwnerID] == nil {
		return nil, fmt.Errorf("owner %s is not in the scenario", ss.OwnerID)
	}
	d, err := s.restoredDisk(ss.Disk)
	if err != nil {
		return nil, err
	}
	if ss.Completes.Before(ss.Started) {
		return nil, errors.New("it completes before it starts")
	}
	snap := &snapshot{
		seq: ss.Seq, id: ss.ID, ownerID: ss.OwnerID, region: ss.Region, volumeID: ss.VolumeID,
		description: ss.Description, disk: d, sizeGiB: ss.SizeGiB, started: ss.Started,
		duration: ss.Completes.Sub(ss.Started), statusMessage: ss.StatusMessage,
		encrypted: ss.Encrypted, kmsKeyARN: ss.KMSKeyARN, tags: tagsOf(ss.Tags),
		sharedWith: map[string]bool{}, public: ss.Public, visibleAt: ss.VisibleAt,
	}
	if ss.FailsAt != nil {
		snap.fails, snap.failAfter = true, ss.FailsAt.Sub(ss.Started)
	}
	for _, id := range ss.SharedWith {
		if !accountIDPattern.MatchString(id) {
			return nil, fmt.Errorf("shared with %q, which is not an account ID", id)
		}
		snap.sharedWith[id] = true
	}
	if l := ss.Lock; l != nil {
		if l.Mode != "governance" && l.Mode != "compliance" {
			return nil, fmt.Errorf("lock mode %q", l.Mode)
		}
		snap.lock = &snapshotLock{mode: l.Mode, created: l.Created, durationStart: l.DurationStart, expires: l.Expires,
			lockDays: l.LockDays, coolOffHours: l.CoolOffHours, coolOffExpires: l.CoolOffExpires}
	}
	return snap, nil
}

func (s *Server) restoredKey(sk savedKey) (*kmsKey, error) {
	if !keyIDPattern.MatchString(sk.ID) {
		return nil, errors.New("the ID is not a UUID")
	}
	if s.st.accounts[sk.AccountID] == nil {
		return nil, fmt.Errorf("account %s is not in the scenario", sk.AccountID)
	}
	k := &kmsKey{
		seq: sk.Seq, id: sk.ID, arn: keyARN(sk.Region, sk.AccountID, sk.ID), accountID: sk.AccountID,
		region: sk.Region, description: sk.Description, usage: sk.Usage, spec: sk.Spec,
		awsManaged: sk.AWSManaged, created: sk.Created, enabled: sk.Enabled, pendingDays: sk.PendingDays,
	}
	if sk.DeletionDate != nil {
		k.deletion = *sk.DeletionDate
	}
	switch {
	case k.symmetricEncryption():
	case sk.Usage == "SIGN_VERIFY" && (sk.Spec == "ECC_NIST_P256" || sk.Spec == "ECC_NIST_P384"):
		// Without its private key a signing key would get a new one, and
		// what it signed before would no longer verify.
		if sk.PrivateKeyPEM == "" {
			return nil, errors.New("a signing key saved without its private key")
		}
		signer, err := signingKey(sk.Spec, sk.PrivateKeyPEM)
		if err != nil {
			return nil, err
		}
		k.signer = signer
	default:
		return nil, fmt.Errorf("usage %s with spec %s", sk.Usage, sk.Spec)
	}
	if err := k.setPolicy(sk.Policy); err != nil {
		return nil, fmt.Errorf("key policy: %w", err)
	}
	return k, nil
}

// restoredSession rebuilds an AssumeRole session: its principal from the
// scenario's role, its keys and token from its number and expiry.
func (s *Server) restoredSession(ss savedSession) (*credential, error) {
	acct := s.st.accounts[ss.AccountID]
	if acct == nil || acct.roles[ss.Role] == nil {
		return nil, fmt.Errorf("role %s of account %s is not in the scenario", ss.Role, ss.AccountID)
	}
	if ss.Number == 0 || !sessionNamePattern.MatchString(ss.Name) {
		return nil, fmt.Errorf("session number %d, name %q", ss.Number, ss.Name)
	}
	c := s.sessionCredential(ss.Number, ss.Expires, sessionPrincipal(acct, acct.roles[ss.Role], ss.Name))
	if s.st.credentials[c.accessKeyID] != nil {
		return nil, fmt.Errorf("access key %s is taken", c.accessKeyID)
	}
	return c, nil
}

// tagsOf copies saved tags into a resource's own, never nil, map.
func tagsOf(m map[string]string) tags {
	out := tags{}
	maps.Copy(out, m)
	return out
}
