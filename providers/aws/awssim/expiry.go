package awssim

import "time"

// Some state ends by itself when its time comes: a KMS key whose deletion
// window has passed is deleted, and AssumeRole credentials expire. The state
// keeps the earliest such deadline, so that checking on every request costs a
// comparison until something is actually due.

// noteDeadline records that something ends at t. Callers hold Server.mu.
func (st *state) noteDeadline(t time.Time) {
	if st.nextDeadline.IsZero() || t.Before(st.nextDeadline) {
		st.nextDeadline = t
	}
}

// expire carries out every deadline reached at now. Callers hold Server.mu.
func (st *state) expire(now time.Time) {
	if st.nextDeadline.IsZero() || now.Before(st.nextDeadline) {
		return
	}
	st.nextDeadline = time.Time{}
	for _, k := range st.keys {
		switch {
		case k.deletion.IsZero():
		case !now.Before(k.deletion):
			st.deleteKey(k)
		default:
			st.noteDeadline(k.deletion)
		}
	}
	// Expired sessions are forgotten; their tokens still identify them as
	// expired (see Server.expiredSessionToken).
	for id, c := range st.credentials {
		switch {
		case c.expires.IsZero():
		case !now.Before(c.expires):
			delete(st.credentials, id)
		default:
			st.noteDeadline(c.expires)
		}
	}
}

// deleteKey removes a key at the end of its deletion window: KMS then deletes
// the key and all KMS data associated with it, including the aliases that
// refer to it (and so its grants); data encrypted under it is unrecoverable.
// Snapshots under the key stay, unreadable and uncopyable.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html
// Callers hold Server.mu.
func (st *state) deleteKey(k *kmsKey) {
	st.changedAside = true
	delete(st.keys, k.id)
	for ref, a := range st.aliases {
		if a.keyID == k.id {
			delete(st.aliases, ref)
		}
	}
	for id, g := range st.grants {
		if g.keyID == k.id {
			delete(st.grants, id)
		}
	}
}
