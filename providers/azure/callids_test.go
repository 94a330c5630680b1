package azure

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"sync"
	"testing"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestRecordsCarryCallIDs: every ARM call that makes, opens, closes, removes or locks something is in
// the custody records with both of ARM's identifiers, its request ID and its correlation ID, even when
// they are equal (the simulator, like ARM, answers the request ID as correlation ID when the client
// sends none). The served IDs come from the simulator's own request log.
func TestRecordsCarryCallIDs(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	sc := scenario(t)
	sim, d, _ := startSimWith(t, sc, &azuresim.Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&logs, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))}, nil)
	env := harness{}.envFor(d, sim)
	sc2 := env.Scenarios["two-instances"]
	env.Faults.FailSnapshots(diskID("vm-2-os")) // a snapshot in error, which the run deletes
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, sc2, func(o *acquisition.Options) { o.Lock = &driver.LockRequest{Mode: "CanNotDelete"} })
	var partial *acquisition.PartialError
	if !errors.As(err, &partial) || partial.Failed != 1 {
		t.Fatalf("error %v, want one volume failed", err)
	}

	recs, err := custody.ReadRecords(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	form := regexp.MustCompile(`^request (\S+) correlation (\S+)$`)
	recorded := map[string]string{} // request ID -> correlation ID
	for _, r := range recs {
		p := r.Statement.Predicate.Provider
		if p == nil {
			continue
		}
		for _, id := range p.RequestIDs {
			m := form.FindStringSubmatch(id)
			if m == nil || m[1] == "-" || m[2] == "-" {
				t.Errorf("record %s (%s) holds call identifiers %q, want both a request and a correlation ID", r.Path, r.Statement.Predicate.Action, id)
				continue
			}
			recorded[m[1]] = m[2]
		}
	}
	served := map[string][]string{} // operation -> request IDs
	mu.Lock()
	sca := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
	mu.Unlock()
	for sca.Scan() {
		var line struct {
			Op        string `json:"op"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(sca.Bytes(), &line) == nil && line.RequestID != "" {
			served[line.Op] = append(served[line.Op], line.RequestID)
		}
	}
	for _, op := range []string{"Snapshots_CreateOrUpdate", "Snapshots_GrantAccess", "Snapshots_RevokeAccess", "Snapshots_Delete", "ManagementLocks_CreateOrUpdate"} {
		if len(served[op]) == 0 {
			t.Errorf("the simulator served no %s: the run does not exercise it", op)
		}
		for _, id := range served[op] {
			if corr, ok := recorded[id]; !ok || corr == "" {
				t.Errorf("%s request %s is in no record with its correlation ID", op, id)
			}
		}
	}
}
