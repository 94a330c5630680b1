package providers

import (
	"context"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
)

// ensureShareKey returns the key that volumes under an unshareable key are re-encrypted with: the one
// given in the options, or a temporary one made once for the case (found again by its token on resume).
func (r *run) ensureShareKey(ctx context.Context) (Key, error) {
	r.mu.Lock()
	if r.shareKey != nil {
		k := *r.shareKey
		r.mu.Unlock()
		return k, nil
	}
	r.mu.Unlock()
	r.keyOnce.Lock() // one creator at a time; the others wait for its key
	defer r.keyOnce.Unlock()
	if k := r.currentShareKey(); k != nil {
		return *k, nil
	}
	region := r.opts.Target.Region
	if r.opts.ShareKeyID != "" {
		k := Key{ID: r.opts.ShareKeyID, Region: region}
		r.setShareKey(&k, false)
		return k, nil
	}
	id := r.keyGeneration() + ".create"
	if details, ok := r.journal.done(id); ok {
		var k Key
		if err := detail(details, "key", &k); err == nil {
			r.setShareKey(&k, true)
			return k, nil
		}
	}
	tok := token(r.caseID, id)
	s := step{id: id, action: "share-key.create", side: Source, region: region, token: tok, retry: true}
	var k Key
	_, err := r.runStep(ctx, s, func(ctx context.Context, resumed bool) (outcome, error) {
		if resumed {
			found, err := r.d.FindShareKey(ctx, region, tok)
			if err != nil {
				return outcome{}, err
			}
			if found != nil {
				k = *found
			}
		}
		if k.ID == "" {
			var err error
			if k, err = r.d.CreateShareKey(ctx, region, tok); err != nil {
				return outcome{}, err
			}
		}
		return outcome{details: map[string]any{"key": asDetail(k)}, resources: []custody.Resource{{Kind: "kms-key", ID: k.ID}},
			note: "temporary key, usable by the forensic account only, to re-encrypt snapshots under the provider's unshareable key"}, nil
	})
	if err != nil {
		return Key{}, err
	}
	r.setShareKey(&k, true)
	return k, nil
}

// keyGeneration names the current temporary key's steps: "case/share-key.<n>". A key retired after a
// cancel is gone; the run that resumes makes the next one.
func (r *run) keyGeneration() string {
	n := 1
	for {
		if _, retired := r.journal.done(fmt.Sprintf("case/share-key.%d.retire", n)); !retired {
			return fmt.Sprintf("case/share-key.%d", n)
		}
		n++
	}
}

func (r *run) currentShareKey() *Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shareKey
}

func (r *run) setShareKey(k *Key, temporary bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shareKey, r.tempKey = k, temporary
}

// retireShareKey schedules the deletion of the case's temporary key once no volume needs it. It runs
// under a fresh context: after a cancel, the key must still go.
func (r *run) retireShareKey(ctx context.Context) error {
	gen := r.keyGeneration()
	created, id := gen+".create", gen+".retire"
	details, made := r.journal.done(created)
	if !made && !r.journal.inFlight(created) {
		return nil
	}
	var k Key
	if made {
		if err := detail(details, "key", &k); err != nil {
			return err
		}
	} else if found, err := r.d.FindShareKey(ctx, r.opts.Target.Region, token(r.caseID, created)); err != nil || found == nil {
		return err // an in-flight create that made nothing leaves nothing to retire
	} else {
		k = *found
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
	defer cancel()
	s := step{id: id, action: "share-key.retire", side: Source, region: k.Region, resources: []custody.Resource{{Kind: "kms-key", ID: k.ID}}}
	_, err := r.runStep(cctx, s, func(ctx context.Context, _ bool) (outcome, error) {
		return outcome{note: fmt.Sprintf("temporary key %s scheduled for deletion", k.ID)}, r.d.RetireShareKey(ctx, k)
	})
	if err == nil {
		r.setShareKey(nil, false)
		r.leave(Leftover{Side: Source, Region: k.Region, Kind: "kms-key", ID: k.ID, Note: "temporary share key, disabled: deleted in 7 days (the shortest KMS allows)"})
	}
	return err
}
