package gcpsim

import (
	"strings"
)

func projectURL(p string) string               { return selfLinkBase + "projects/" + p }
func zoneURL(p, z string) string               { return projectURL(p) + "/zones/" + z }
func regionURL(p, r string) string             { return projectURL(p) + "/regions/" + r }
func diskURL(p, z, n string) string            { return zoneURL(p, z) + "/disks/" + n }
func instanceURL(p, z, n string) string        { return zoneURL(p, z) + "/instances/" + n }
func snapshotURL(p, n string) string           { return projectURL(p) + "/global/snapshots/" + n }
func imageURL(p, n string) string              { return projectURL(p) + "/global/images/" + n }
func policyURL(p, r, n string) string          { return regionURL(p, r) + "/resourcePolicies/" + n }
func instantSnapshotURL(p, z, n string) string { return zoneURL(p, z) + "/instantSnapshots/" + n }
func isGroupURL(p, z, n string) string         { return zoneURL(p, z) + "/instantSnapshotGroups/" + n }

// ref is a parsed resource reference.
type ref struct {
	project, scope, collection, name string // scope: "zones/Z", "regions/R", "global"
}

// path is the reference as the API names a resource in messages.
func (r ref) path() string {
	return "projects/" + r.project + "/" + r.scope + "/" + r.collection + "/" + r.name
}

// key is the state key of the resource.
func (r ref) key() string {
	switch {
	case strings.HasPrefix(r.scope, "zones/"):
		return key(r.project, strings.TrimPrefix(r.scope, "zones/"), r.name)
	case strings.HasPrefix(r.scope, "regions/"):
		return key(r.project, strings.TrimPrefix(r.scope, "regions/"), r.name)
	}
	return key(r.project, r.name)
}

// parseRef reads a reference to a resource of collection as the API accepts
// them: a full URL, "projects/P/SCOPE/COLLECTION/NAME", or
// "SCOPE/COLLECTION/NAME" in the caller's project (and, for zonal resources,
// a bare name in the caller's zone).
// https://cloud.google.com/compute/docs/reference/rest/v1/disks/insert (sourceSnapshot)
func parseRef(s, collection, callProject, callZone string) (ref, bool) {
	for _, prefix := range []string{"https://www.googleapis.com/compute/v1/", "https://compute.googleapis.com/compute/v1/", "http://www.googleapis.com/compute/v1/"} {
		s = strings.TrimPrefix(s, prefix)
	}
	parts := strings.Split(s, "/")
	out := ref{project: callProject, collection: collection}
	if len(parts) >= 2 && parts[0] == "projects" {
		out.project = parts[1]
		parts = parts[2:]
	}
	switch {
	case len(parts) == 3 && parts[0] == "global" && parts[1] == collection:
		out.scope, out.name = "global", parts[2]
	case len(parts) == 4 && (parts[0] == "zones" || parts[0] == "regions") && parts[2] == collection:
		out.scope, out.name = parts[0]+"/"+parts[1], parts[3]
	case len(parts) == 1 && callZone != "" && parts[0] != "":
		out.scope, out.name = "zones/"+callZone, parts[0]
	default:
		return ref{}, false
	}
	if out.project == "" || out.name == "" || strings.ContainsAny(out.name, "?#") {
		return ref{}, false
	}
	return out, true
}

// lastSegment is the name at the end of a URL.
func lastSegment(u string) string {
	return u[strings.LastIndexByte(u, '/')+1:]
}
