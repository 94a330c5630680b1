package azuresim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// apiFamily is a resource provider's set of API versions. ARM refuses a
// request without api-version, and one whose version the provider does not
// serve for the type.
// https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/common-api-details.md#api-versioning
type apiFamily struct {
	name string
	// Versions are accepted from earliest to latest (inclusive, compared
	// as dates), or exactly those listed.
	earliest, latest string
	exact            []string
}

var (
	// The disk resource provider: disks, snapshots, disk encryption sets,
	// disk restore points. 2025-01-02 is armcompute v7.3.0's; 2022-07-02
	// the Azure CLI 2.45's.
	// https://learn.microsoft.com/rest/api/compute/disks
	apiDisks = apiFamily{name: "Microsoft.Compute (disks)", earliest: "2016-04-30-preview", latest: "2025-01-02"}
	// The compute resource provider: virtual machines, restore points.
	// https://learn.microsoft.com/rest/api/compute/virtual-machines
	apiCompute = apiFamily{name: "Microsoft.Compute", earliest: "2015-06-15", latest: "2025-04-01"}
	// https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces
	apiNetwork = apiFamily{name: "Microsoft.Network", earliest: "2015-06-15", latest: "2025-01-01"}
	// https://learn.microsoft.com/rest/api/resources/management-locks
	apiLocks = apiFamily{name: "Microsoft.Authorization/locks", exact: []string{"2015-01-01", "2016-09-01", "2020-05-01"}}
	// https://learn.microsoft.com/rest/api/resources/resource-groups
	apiResources = apiFamily{name: "Microsoft.Resources", earliest: "2014-04-01", latest: "2025-04-01"}
	// https://learn.microsoft.com/rest/api/managedidentity/user-assigned-identities
	apiIdentity = apiFamily{name: "Microsoft.ManagedIdentity", earliest: "2015-08-31-preview", latest: "2024-11-30"}
)

var apiVersionForm = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$`)

func (f apiFamily) check(v string, segs []string) *armError {
	if v == "" {
		return badRequest("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	ok := apiVersionForm.MatchString(v)
	if ok && len(f.exact) > 0 {
		ok = slices.Contains(f.exact, v)
	} else if ok {
		date := v[:10]
		ok = date >= f.earliest[:10] && date <= f.latest
	}
	if ok {
		return nil
	}
	typ := "resource"
	if len(segs) > 0 {
		typ = segs[len(segs)-1]
		for i := len(segs) - 2; i >= 0; i-- {
			if strings.EqualFold(segs[i], "providers") && i+2 < len(segs) {
				typ = segs[i+2]
				break
			}
		}
	}
	supported := strings.Join(f.exact, ", ")
	if supported == "" {
		supported = f.earliest + " to " + f.latest
	}
	e := badRequest("NoRegisteredProviderFound", "No registered resource provider found for API version '%s' and type '%s' of %s. The supported api-versions are '%s'.", v, typ, f.name, supported)
	if !apiVersionForm.MatchString(v) {
		e = badRequest("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", v, supported)
	}
	e.status = http.StatusBadRequest
	return e
}

// apiAtLeast reports whether version v is on or after date.
func apiAtLeast(v, date string) bool { return len(v) >= 10 && v[:10] >= date }
