package awssim

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
)

// SaveState writes the simulator's state as a versioned JSON document that
// Options.State restores: snapshots and copies with their tags, shares, locks
// and progress timing; volumes and attachments; KMS keys (with signing keys'
// private keys), aliases, grants, key policies and pending deletions;
// AssumeRole sessions still valid; idempotency tokens; and the ID counters.
// It does not hold disk content, call counts or faults. It may be called
// while requests are being served: it sees the state at one instant.
func (s *Server) SaveState(w io.Writer) error {
	doc, err := s.savedState()
	if err != nil {
		return fmt.Errorf("saving the simulator state: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("saving the simulator state: %w", err)
	}
	return nil
}

// savedState copies the state into a document, under the lock, so that it
// can be encoded without holding it.
func (s *Server) savedState() (*savedState, error) {
	now := s.now()
	disks := s.diskDigests()
	s.mu.Lock()
	defer s.mu.Unlock()
	// What time has ended (keys at the end of their waiting period, expired
	// sessions) is gone before it is saved.
	s.st.expire(now)
	st := s.st
	doc := &savedState{
		Format: stateFormat, Version: stateVersion, Scenario: s.scenarioDigest, SavedAt: now,
		Disks: disks, Counters: s.ids.counterValues(), Seq: st.seq,
	}
	for _, a := range st.accounts {
		doc.Accounts = append(doc.Accounts, savedAccount{ID: a.id, EncryptionByDefault: trueKeys(a.encryptionByDefault)})
	}
	sort.Slice(doc.Accounts, func(i, j int) bool { return doc.Accounts[i].ID < doc.Accounts[j].ID })
	for _, in := range st.instances {
		doc.Instances = append(doc.Instances, savedInstance{ID: in.id, Launched: in.launched,
			Tags: maps.Clone(in.tags), Devices: slices.Clone(in.devices)})
	}
	sort.Slice(doc.Instances, func(i, j int) bool { return doc.Instances[i].ID < doc.Instances[j].ID })
	for _, v := range sortedBySeq(st.volumes, func(v *volume) int64 { return v.seq }) {
		doc.Volumes = append(doc.Volumes, savedVolumeOf(v))
	}
	for _, snap := range sortedBySeq(st.snapshots, func(s *snapshot) int64 { return s.seq }) {
		doc.Snapshots = append(doc.Snapshots, savedSnapshotOf(snap))
	}
	for _, k := range sortedBySeq(st.keys, func(k *kmsKey) int64 { return k.seq }) {
		sk, err := savedKeyOf(k)
		if err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, sk)
	}
	for _, a := range st.aliases {
		doc.Aliases = append(doc.Aliases, savedAlias{AccountID: a.ref.accountID, Region: a.ref.region,
			Name: a.ref.name, KeyID: a.keyID, Created: a.created})
	}
	sort.Slice(doc.Aliases, func(i, j int) bool {
		a, b := doc.Aliases[i], doc.Aliases[j]
		return a.AccountID+"|"+a.Region+"|"+a.Name < b.AccountID+"|"+b.Region+"|"+b.Name
	})
	for _, g := range sortedBySeq(st.grants, func(g *kmsGrant) int64 { return g.seq }) {
		doc.Grants = append(doc.Grants, savedGrant{Seq: g.seq, ID: g.id, Token: g.token, KeyID: g.keyID,
			Name: g.name, Grantee: g.grantee, RetiringPrincipal: g.retiringPrincipal,
			Operations: slices.Clone(g.operations), IssuingAccount: g.issuingAccount, Created: g.created})
	}
	for _, c := range st.credentials {
		if c.session == 0 {
			continue // a scenario user's key
		}
		role := c.principal.roleARN[strings.LastIndex(c.principal.roleARN, "/")+1:]
		doc.Sessions = append(doc.Sessions, savedSession{Number: c.session, AccountID: c.principal.accountID,
			Role: role, Name: c.principal.session, Expires: c.expires})
	}
	sort.Slice(doc.Sessions, func(i, j int) bool { return doc.Sessions[i].Number < doc.Sessions[j].Number })
	for key, rec := range st.clientTokens {
		doc.ClientTokens = append(doc.ClientTokens, savedClientToken{Key: key, Fingerprint: rec.fingerprint, ResourceID: rec.resourceID})
	}
	sort.Slice(doc.ClientTokens, func(i, j int) bool { return doc.ClientTokens[i].Key < doc.ClientTokens[j].Key })
	return doc, nil
}

// sortedBySeq lists a map's values in creation order.
func sortedBySeq[T any](m map[string]T, seq func(T) int64) []T {
	out := slices.Collect(maps.Values(m))
	sort.Slice(out, func(i, j int) bool { return seq(out[i]) < seq(out[j]) })
	return out
}

// trueKeys lists, sorted, the keys whose value is true.
func trueKeys(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func savedDiskOf(d *disk) savedDisk { return savedDisk{Volume: d.origin, SizeGiB: d.sizeGiB} }

func savedVolumeOf(v *volume) savedVolume {
	out := savedVolume{
		Seq: v.seq, ID: v.id, OwnerID: v.ownerID, Region: v.region, AZ: v.az, VolumeType: v.volumeType,
		Iops: v.iops, Disk: savedDiskOf(v.disk), Encrypted: v.encrypted, KMSKeyARN: v.kmsKeyARN,
		SnapshotID: v.snapshotID, Created: v.created, VisibleAt: v.visibleAt, Tags: maps.Clone(v.tags),
		Failure: v.failure,
	}
	if a := v.attachment; a != nil {
		out.Attachment = &savedAttachment{InstanceID: a.instanceID, Device: a.device,
			DeleteOnTermination: a.deleteOnTermination, Attached: a.attached}
	}
	return out
}

func savedSnapshotOf(snap *snapshot) savedSnapshot {
	out := savedSnapshot{
		Seq: snap.seq, ID: snap.id, OwnerID: snap.ownerID, Region: snap.region, VolumeID: snap.volumeID,
		Description: snap.description, Disk: savedDiskOf(snap.disk), SizeGiB: snap.sizeGiB,
		Started: snap.started, Completes: snap.completedAt(), StatusMessage: snap.statusMessage,
		Encrypted: snap.encrypted, KMSKeyARN: snap.kmsKeyARN, Tags: maps.Clone(snap.tags),
		SharedWith: trueKeys(snap.sharedWith), Public: snap.public, VisibleAt: snap.visibleAt,
	}
	if snap.fails {
		out.FailsAt = new(snap.started.Add(snap.failAfter))
	}
	if l := snap.lock; l != nil {
		out.Lock = &savedLock{Mode: l.mode, Created: l.created, DurationStart: l.durationStart, Expires: l.expires,
			LockDays: l.lockDays, CoolOffHours: l.coolOffHours, CoolOffExpires: l.coolOffExpires}
	}
	return out
}

func savedKeyOf(k *kmsKey) (savedKey, error) {
	out := savedKey{
		Seq: k.seq, ID: k.id, AccountID: k.accountID, Region: k.region, Description: k.description,
		Usage: k.usage, Spec: k.spec, AWSManaged: k.awsManaged, Created: k.created, Enabled: k.enabled,
		PendingDays: k.pendingDays, Policy: k.policyDoc,
	}
	if !k.deletion.IsZero() {
		out.DeletionDate = new(k.deletion)
	}
	if k.signer != nil {
		der, err := x509.MarshalPKCS8PrivateKey(k.signer)
		if err != nil {
			return savedKey{}, fmt.Errorf("key %s: %w", k.id, err)
		}
		out.PrivateKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	return out, nil
}
