package awssim

import (
	"maps"
	"sort"
	"time"
)

// The inspection API lets a test look at the simulator's state directly,
// without going through the wire protocol whose behaviour is under test.

// Share is who may create volumes from a snapshot.
type Share struct {
	SnapshotID string
	OwnerID    string
	Region     string
	AccountIDs []string // sorted
	Public     bool
}

// Shares lists every snapshot shared with another account or made public.
func (s *Server) Shares() []Share {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Share
	for _, snap := range s.sortedSnapshots() {
		if !snap.public && len(snap.sharedWith) == 0 {
			continue
		}
		sh := Share{SnapshotID: snap.id, OwnerID: snap.ownerID, Region: snap.region, Public: snap.public}
		for id := range snap.sharedWith {
			sh.AccountIDs = append(sh.AccountIDs, id)
		}
		sort.Strings(sh.AccountIDs)
		out = append(out, sh)
	}
	return out
}

// SnapshotInfo is a snapshot as the simulator sees it now.
type SnapshotInfo struct {
	ID, OwnerID, Region, VolumeID string
	State                         string // pending | completed | error
	Progress                      int
	Encrypted                     bool
	KMSKeyARN                     string
	Tags                          map[string]string
	LockState                     string // "" when not locked
	StartTime                     time.Time
	Blocks                        int // written 512 KiB blocks
}

// Snapshots lists every snapshot in every account and region.
func (s *Server) Snapshots() []SnapshotInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SnapshotInfo
	for _, snap := range s.sortedSnapshots() {
		state, pct := snap.status(now)
		info := SnapshotInfo{ID: snap.id, OwnerID: snap.ownerID, Region: snap.region, VolumeID: snap.volumeID,
			State: state, Progress: pct, Encrypted: snap.encrypted, KMSKeyARN: snap.kmsKeyARN,
			Tags: maps.Clone(snap.tags), StartTime: snap.started, Blocks: len(snap.disk.blocks)}
		if lock := snap.activeLock(now); lock != nil {
			info.LockState = lock.state(now)
		}
		out = append(out, info)
	}
	return out
}

func (s *Server) sortedSnapshots() []*snapshot {
	out := make([]*snapshot, 0, len(s.st.snapshots))
	for _, snap := range s.st.snapshots {
		out = append(out, snap)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// KeyInfo describes a KMS key.
type KeyInfo struct {
	ARN          string
	AccountID    string
	Region       string
	State        string // Enabled | Disabled | PendingDeletion
	AWSManaged   bool
	DeletionDate time.Time
}

// Keys lists every KMS key, including the AWS managed aws/ebs keys created so
// far. Keys whose deletion window has ended are gone.
func (s *Server) Keys() []KeyInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.expire(now)
	var out []KeyInfo
	for _, k := range s.st.keys {
		out = append(out, KeyInfo{ARN: k.arn, AccountID: k.accountID, Region: k.region, State: k.keyState(),
			AWSManaged: k.awsManaged, DeletionDate: k.deletion})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

// KeysPendingDeletion lists the keys scheduled for deletion.
func (s *Server) KeysPendingDeletion() []KeyInfo {
	var out []KeyInfo
	for _, k := range s.Keys() {
		if k.State == "PendingDeletion" {
			out = append(out, k)
		}
	}
	return out
}

// GrantInfo is a KMS grant.
type GrantInfo struct {
	GrantID, KeyARN, Name, Grantee, RetiringPrincipal string
	Operations                                        []string
}

// Grants lists every KMS grant.
func (s *Server) Grants() []GrantInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var grants []*kmsGrant
	for _, g := range s.st.grants {
		grants = append(grants, g)
	}
	sort.Slice(grants, func(i, j int) bool { return grants[i].seq < grants[j].seq })
	var out []GrantInfo
	for _, g := range grants {
		out = append(out, GrantInfo{GrantID: g.id, KeyARN: s.st.keys[g.keyID].arn, Name: g.name, Grantee: g.grantee,
			RetiringPrincipal: g.retiringPrincipal, Operations: append([]string(nil), g.operations...)})
	}
	return out
}

// CallCounts returns how many authenticated requests each implemented action
// received, keyed "service:Action" ("ec2:CreateSnapshot",
// "ebs:GetSnapshotBlock"), including those that failed or were answered with
// an injected fault. Requests that fail authentication or name no known
// action are not counted.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.calls)
}

// ResetCallCounts sets every count back to zero.
func (s *Server) ResetCallCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.st.calls)
}

// AccountInfo is an account and the long-term credentials of its users, for
// writing client configuration.
type AccountInfo struct {
	ID    string
	Name  string
	Users []UserCredentials
}

// UserCredentials are a user's access key.
type UserCredentials struct {
	UserName        string
	ARN             string
	AccessKeyID     string
	SecretAccessKey string
}

// Accounts lists the scenario's accounts in ID order, each with its users
// in scenario order.
func (s *Server) Accounts() []AccountInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	byAccount := map[string]*AccountInfo{}
	var ids []string
	for id, a := range s.st.accounts {
		byAccount[id] = &AccountInfo{ID: id, Name: a.name}
		ids = append(ids, id)
	}
	var creds []*credential
	for _, c := range s.st.credentials {
		if c.sessionToken == "" {
			creds = append(creds, c)
		}
	}
	sort.Slice(creds, func(i, j int) bool { return creds[i].seq < creds[j].seq })
	for _, c := range creds {
		info := byAccount[c.principal.accountID]
		name := c.principal.arn[len("arn:aws:iam::"+info.ID+":user/"):]
		info.Users = append(info.Users, UserCredentials{UserName: name, ARN: c.principal.arn,
			AccessKeyID: c.accessKeyID, SecretAccessKey: c.secretAccessKey})
	}
	sort.Strings(ids)
	out := make([]AccountInfo, 0, len(ids))
	for _, id := range ids {
		info := byAccount[id]
		out = append(out, *info)
	}
	return out
}
