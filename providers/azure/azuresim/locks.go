package azuresim

import (
	"net/http"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armlocks"
)

// Management locks: CanNotDelete refuses deletes, ReadOnly refuses every
// change (PUT, PATCH, POST such as beginGetAccess, and DELETE) at the scope
// and below. Anyone with Microsoft.Authorization/locks/* (Owner) may remove
// a lock: it is the closest Azure has to a snapshot lock, not WORM.
// https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources

// lockedFor finds a lock that refuses the change. Callers hold s.mu.
func (s *Server) lockedFor(scope string, isDelete bool) *armError {
	var names []string
	for _, l := range s.sortedLocks() {
		if withinScope(scope, l.scope) && (isDelete || l.level == "ReadOnly") {
			names = append(names, l.scope)
		}
	}
	if len(names) == 0 {
		return nil
	}
	verb := "write"
	if isDelete {
		verb = "delete"
	}
	return conflict("ScopeLocked", "The scope '%s' cannot perform %s operation because following scope(s) are locked: '%s'. Please remove the lock and try again.",
		scope, verb, strings.Join(names, "','"))
}

func (s *Server) sortedLocks() []*lock {
	out := make([]*lock, 0, len(s.st.locks))
	for _, l := range s.st.locks {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].id) < key(out[j].id) })
	return out
}

func renderLock(l *lock) *armlocks.ManagementLockObject {
	out := &armlocks.ManagementLockObject{ID: to.Ptr(l.id), Name: to.Ptr(l.name), Type: to.Ptr("Microsoft.Authorization/locks"),
		Properties: &armlocks.ManagementLockProperties{Level: to.Ptr(armlocks.LockLevel(l.level))}}
	if l.notes != "" {
		out.Properties.Notes = to.Ptr(l.notes)
	}
	return out
}

// lockScope is the scope the route's path names (the path before
// /providers/Microsoft.Authorization/locks), after checking the resource
// exists. Callers hold s.mu.
func (s *Server) lockScope(c *call) (string, *armError) {
	scope := c.scope
	if c.params["lockName"] == "" {
		scope = scopeOf(splitPath(c.r.URL.Path), 3)
	}
	r := parseResourceID(scope)
	if r.resourceGroup != "" && s.st.groups[key("/subscriptions/"+r.subscription+"/resourceGroups/"+r.resourceGroup)] == nil {
		return "", resourceGroupNotFound(r.resourceGroup)
	}
	if r.namespace != "" && !s.resourceExists(scope) {
		return "", notFound(scope)
	}
	return scope, nil
}

// resourceExists reports whether a tracked resource has this ID. Callers
// hold s.mu.
func (s *Server) resourceExists(id string) bool {
	k := key(id)
	return s.st.disks[k] != nil || s.st.snapshots[k] != nil || s.st.vms[k] != nil || s.st.desets[k] != nil ||
		s.st.rpcs[k] != nil || s.st.rps[k] != nil
}

// https://learn.microsoft.com/rest/api/resources/management-locks/create-or-update-at-resource-level
func (s *Server) putLock(c *call) {
	var in armlocks.ManagementLockObject
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	if in.Properties == nil || in.Properties.Level == nil ||
		(*in.Properties.Level != armlocks.LockLevelCanNotDelete && *in.Properties.Level != armlocks.LockLevelReadOnly) {
		c.fail(badRequest("LockLevelInvalid", "The lock level must be CanNotDelete or ReadOnly."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, e := s.lockScope(c)
	if e != nil {
		c.fail(e)
		return
	}
	id := scope + "/providers/Microsoft.Authorization/locks/" + c.params["lockName"]
	status := http.StatusCreated
	if s.st.locks[key(id)] != nil {
		status = http.StatusOK
	}
	l := &lock{id: id, scope: scope, name: c.params["lockName"], level: string(*in.Properties.Level)}
	if in.Properties.Notes != nil {
		l.notes = *in.Properties.Notes
	}
	s.st.locks[key(id)] = l
	c.reply(status, renderLock(l))
}

func (s *Server) getLock(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, e := s.lockScope(c)
	if e != nil {
		c.fail(e)
		return
	}
	l := s.st.locks[key(scope+"/providers/Microsoft.Authorization/locks/"+c.params["lockName"])]
	if l == nil {
		c.fail(newError(http.StatusNotFound, "LockNotFound", "The lock '%s' could not be found.", c.params["lockName"]))
		return
	}
	c.reply(http.StatusOK, renderLock(l))
}

// listLocks lists the locks at the scope and above it (those that apply),
// and below it for a subscription or resource group, as ARM does.
func (s *Server) listLocks(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, e := s.lockScope(c)
	if e != nil {
		c.fail(e)
		return
	}
	var out []any
	for _, l := range s.sortedLocks() {
		if withinScope(scope, l.scope) || withinScope(l.scope, scope) {
			out = append(out, renderLock(l))
		}
	}
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

// https://learn.microsoft.com/rest/api/resources/management-locks/delete-at-resource-level
func (s *Server) deleteLock(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, e := s.lockScope(c)
	if e != nil {
		c.fail(e)
		return
	}
	k := key(scope + "/providers/Microsoft.Authorization/locks/" + c.params["lockName"])
	if s.st.locks[k] == nil {
		c.reply(http.StatusNoContent, nil)
		return
	}
	delete(s.st.locks, k)
	c.reply(http.StatusOK, nil)
}
