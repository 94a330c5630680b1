package awssim

import (
	"sort"
	"time"
)

type xmlLockInfo struct {
	OwnerID                string `xml:"ownerId,omitempty"`
	SnapshotID             string `xml:"snapshotId"`
	LockState              string `xml:"lockState"`
	LockDuration           int32  `xml:"lockDuration,omitempty"`
	CoolOffPeriod          int32  `xml:"coolOffPeriod,omitempty"`
	CoolOffPeriodExpiresOn string `xml:"coolOffPeriodExpiresOn,omitempty"`
	LockCreatedOn          string `xml:"lockCreatedOn"`
	LockDurationStartTime  string `xml:"lockDurationStartTime,omitempty"`
	LockExpiresOn          string `xml:"lockExpiresOn,omitempty"`
}

// xmlLockOf describes a snapshot's lock. While a snapshot locked for a
// duration is pending, its lock duration has not started, so neither its
// start nor its expiry is reported yet.
func xmlLockOf(snap *snapshot, l *snapshotLock, now time.Time) xmlLockInfo {
	x := xmlLockInfo{
		SnapshotID: snap.id, LockState: l.state(now), LockDuration: l.lockDays,
		LockCreatedOn: ec2Time(l.created),
	}
	if started := !now.Before(l.durationStart); started || l.lockDays == 0 {
		x.LockExpiresOn = ec2Time(l.expires)
		if started {
			x.LockDurationStartTime = ec2Time(l.durationStart)
		}
	}
	if l.coolOffHours > 0 {
		x.CoolOffPeriod, x.CoolOffPeriodExpiresOn = l.coolOffHours, ec2Time(l.coolOffExpires)
	}
	return x
}

type lockSnapshotResponse struct {
	ec2Meta
	xmlLockInfo
}

// LockSnapshot locks in governance mode (authorised users may unlock or
// change the lock) or compliance mode (after the cool-off period nobody can
// unlock, shorten or change the mode; the duration can only grow).
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LockSnapshot.html
// https://docs.aws.amazon.com/ebs/latest/userguide/snapshot-lock-concepts.html
func (s *Server) lockSnapshot(r *ec2Request) (ec2Body, *apiError) {
	mode := r.q.get("LockMode")
	switch mode {
	case "":
		return nil, errMissingParameter("LockMode")
	case "governance", "compliance":
	default:
		return nil, errInvalidParameterValue("LockMode", mode)
	}
	days, ok := r.q.integer("LockDuration", 0)
	if !ok || (r.q.has("LockDuration") && (days < 1 || days > 36500)) {
		return nil, errInvalidParameterValue("LockDuration", r.q.get("LockDuration"))
	}
	var expires time.Time
	switch {
	case r.q.has("LockDuration") && r.q.has("ExpirationDate"):
		return nil, errInvalidParameterCombination("Specify either LockDuration or ExpirationDate, not both.")
	case r.q.has("LockDuration"):
		// Counted from the start of the lock duration, below.
	case r.q.has("ExpirationDate"):
		t, err := time.Parse(time.RFC3339, r.q.get("ExpirationDate"))
		if err != nil || !t.After(r.now) {
			return nil, errInvalidParameterValue("ExpirationDate", r.q.get("ExpirationDate"))
		}
		expires = t
	default:
		return nil, errMissingParameter("LockDuration")
	}
	hours, ok := r.q.integer("CoolOffPeriod", 0)
	if !ok || (r.q.has("CoolOffPeriod") && (hours < 1 || hours > 72)) {
		return nil, errInvalidParameterValue("CoolOffPeriod", r.q.get("CoolOffPeriod"))
	}
	if hours > 0 && mode != "compliance" {
		return nil, errInvalidParameterCombination("CoolOffPeriod is only valid with LockMode compliance.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, e := s.findOwnSnapshot(r, r.q.get("SnapshotId"))
	if e != nil {
		return nil, e
	}
	// "You can lock a snapshot only if it is in the pending or completed
	// state. If you lock a snapshot while it is in the pending state, and you
	// lock it for a specific duration, the lock duration starts only when the
	// snapshot reaches the completed state."
	// https://docs.aws.amazon.com/ebs/latest/userguide/snapshot-lock-considerations.html
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LockedSnapshotsInfo.html
	durationStart := r.now
	switch state, _ := snap.status(r.now); state {
	case "error":
		return nil, badRequest("IncorrectState", "The snapshot '%s' is in state error and cannot be locked.", snap.id)
	case "pending":
		durationStart = snap.completedAt()
	}
	if days > 0 {
		expires = durationStart.Add(time.Duration(days) * 24 * time.Hour)
	}
	lock := &snapshotLock{mode: mode, created: r.now, durationStart: durationStart, expires: expires,
		lockDays: int32(days), coolOffHours: int32(hours), coolOffExpires: r.now.Add(time.Duration(hours) * time.Hour)}
	if old := snap.activeLock(r.now); old != nil && old.state(r.now) == "compliance" {
		switch {
		case mode != "compliance":
			return nil, badRequest("OperationNotPermitted", "The lock mode of snapshot '%s' is compliance and cannot be changed after the cooling-off period.", snap.id)
		case expires.Before(old.expires):
			return nil, badRequest("OperationNotPermitted", "The lock of snapshot '%s' is in compliance mode and can only be extended.", snap.id)
		case hours > 0:
			return nil, errInvalidParameterCombination("The cooling-off period of snapshot '%s' has already ended.", snap.id)
		}
		lock.created, lock.coolOffHours, lock.coolOffExpires = old.created, 0, old.coolOffExpires
	}
	snap.lock = lock
	return &lockSnapshotResponse{xmlLockInfo: xmlLockOf(snap, lock, r.now)}, nil
}

type unlockSnapshotResponse struct {
	ec2Meta
	SnapshotID string `xml:"snapshotId"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_UnlockSnapshot.html
func (s *Server) unlockSnapshot(r *ec2Request) (ec2Body, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, e := s.findOwnSnapshot(r, r.q.get("SnapshotId"))
	if e != nil {
		return nil, e
	}
	lock := snap.activeLock(r.now)
	if lock == nil || lock.state(r.now) == "expired" {
		return nil, badRequest("IncorrectState", "The snapshot '%s' is not locked.", snap.id)
	}
	if lock.state(r.now) == "compliance" {
		return nil, badRequest("OperationNotPermitted", "The snapshot '%s' is locked in compliance mode and its cooling-off period has ended.", snap.id)
	}
	snap.lock = nil
	return &unlockSnapshotResponse{SnapshotID: snap.id}, nil
}

type describeLockedSnapshotsResponse struct {
	ec2Meta
	Snapshots []xmlLockInfo `xml:"snapshotSet>item"`
	NextToken string        `xml:"nextToken,omitempty"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLockedSnapshots.html
func (s *Server) describeLockedSnapshots(r *ec2Request) (ec2Body, *apiError) {
	ids := r.q.list("SnapshotId")
	page, e := ec2Page(r.q, pagingDescribeLockedSnapshots, len(ids) > 0)
	if e != nil {
		return nil, e
	}
	filters := r.q.filters()
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*snapshot
	if len(ids) > 0 {
		for _, id := range ids {
			snap, e := s.findOwnSnapshot(r, id)
			if e != nil {
				return nil, e
			}
			found = append(found, snap)
		}
	} else {
		for _, snap := range s.st.snapshots {
			if snap.ownerID == r.accountID() && snap.region == r.region {
				found = append(found, snap)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	}
	var matched []*snapshot
	for _, snap := range found {
		lock := snap.activeLock(r.now)
		if lock == nil {
			continue
		}
		ok, e := matchFilters(filters, func(name string) ([]string, bool) {
			if name == "lock-state" {
				return []string{lock.state(r.now)}, true
			}
			return nil, false
		})
		if e != nil {
			return nil, e
		}
		if ok {
			matched = append(matched, snap)
		}
	}
	pageItems, next, e := paginate(s, pager{scope: r.accountID() + "|DescribeLockedSnapshots|" + r.region, now: r.now, badToken: errInvalidPaginationToken}, matched, page)
	if e != nil {
		return nil, e
	}
	out := &describeLockedSnapshotsResponse{NextToken: next}
	for _, snap := range pageItems {
		x := xmlLockOf(snap, snap.activeLock(r.now), r.now)
		x.OwnerID = snap.ownerID
		out.Snapshots = append(out.Snapshots, x)
	}
	return out, nil
}
