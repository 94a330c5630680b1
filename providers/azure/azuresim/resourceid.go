package azuresim

import (
	"strings"
)

// resourceID is a parsed ARM resource ID:
// /subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME[/CHILD/NAME...].
// ARM compares IDs without regard to case.
// https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
type resourceID struct {
	subscription  string
	resourceGroup string
	namespace     string   // Microsoft.Compute
	types         []string // snapshots; restorePointCollections, restorePoints
	names         []string
	name          string // the last name
}

func parseResourceID(id string) resourceID {
	var r resourceID
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i += 2 {
		k, v := parts[i], parts[i+1]
		switch {
		case strings.EqualFold(k, "subscriptions") && r.subscription == "":
			r.subscription = v
		case strings.EqualFold(k, "resourceGroups") && r.resourceGroup == "":
			r.resourceGroup = v
		case strings.EqualFold(k, "providers") && r.namespace == "":
			r.namespace = v
			// What follows is TYPE/NAME pairs.
			rest := parts[i+2:]
			for j := 0; j+1 < len(rest); j += 2 {
				r.types = append(r.types, rest[j])
				r.names = append(r.names, rest[j+1])
			}
			if len(r.names) > 0 {
				r.name = r.names[len(r.names)-1]
			}
			return r
		}
	}
	return r
}

// providerType is "Microsoft.Compute/snapshots" (child types joined by /).
func (r resourceID) providerType() string {
	return r.namespace + "/" + strings.Join(r.types, "/")
}

// key is the case-folded form used to store and compare IDs.
func key(id string) string { return strings.ToLower(strings.TrimRight(id, "/")) }

// resourceIDOf builds an ID in the canonical case.
func resourceIDOf(sub, rg, namespace string, typeNames ...string) string {
	var b strings.Builder
	b.WriteString("/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + namespace)
	for _, s := range typeNames {
		b.WriteString("/" + s)
	}
	return b.String()
}

// withinScope reports whether id is the scope or lies under it.
func withinScope(id, scope string) bool {
	id, scope = key(id), key(scope)
	return id == scope || strings.HasPrefix(id, scope+"/")
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
