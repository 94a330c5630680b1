package acquisition

import (
	"context"
	"fmt"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// removeAll removes resources made for the acquisition's own use, the last made first, each as a step
// named after base. It runs under a fresh, short context, so that it runs after a cancel too; what it
// cannot remove, and what a removal leaves behind (a key pending deletion), is listed as left in
// place. It returns the first removal that failed.
func (r *run) removeAll(ctx context.Context, base string, res []driver.Resource) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
	defer cancel()
	var first error
	for i := len(res) - 1; i >= 0; i-- {
		x := res[i]
		id := fmt.Sprintf("%s/remove.%s:%s", base, x.Kind, x.ID)
		if _, ok := r.journal.done(id); ok {
			continue
		}
		s := step{id: id, action: "remove", side: x.Side, location: x.Location, volume: x.Volume, resources: []custody.Resource{resourceOf(x)}}
		if x.Parent != "" {
			s.resources = append(s.resources, custody.Resource{Kind: "parent", ID: x.Parent})
		}
		_, err := r.runStep(cctx, s, func(ctx context.Context, _ bool) (outcome, error) {
			note := fmt.Sprintf("%s %s removed", x.Kind, x.ID)
			if x.Remains != "" {
				note += ": " + x.Remains
			}
			return outcome{note: note}, r.d.Delete(ctx, x)
		})
		switch {
		case err != nil:
			r.leave(Leftover{Side: x.Side, Location: x.Location, Kind: x.Kind, ID: x.ID, Note: "NOT REMOVED (" + x.Note + "): " + err.Error()})
			if first == nil {
				first = err
			}
		case x.Remains != "":
			r.leave(Leftover{Side: x.Side, Location: x.Location, Kind: x.Kind, ID: x.ID, Note: x.Remains})
		}
	}
	return first
}

// mergeResources adds to a what b holds that a does not, keeping a's order.
func mergeResources(a, b []driver.Resource) []driver.Resource {
	out := append([]driver.Resource(nil), a...)
	for _, y := range b {
		seen := false
		for _, x := range out {
			if x.Kind == y.Kind && x.ID == y.ID && x.Side == y.Side {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, y)
		}
	}
	return out
}

// slot takes a place in a bounded phase, or gives up when the run is cancelled.
func slot(ctx context.Context, slots chan struct{}) (release func(), err error) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
