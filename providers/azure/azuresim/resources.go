package azuresim

import (
	"maps"
	"net/http"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// listSubscriptions lists the subscriptions of the caller's tenant in which
// it holds a role, as ARM does.
// https://learn.microsoft.com/rest/api/resources/subscriptions/list
func (s *Server) listSubscriptions(c *call) {
	s.mu.Lock()
	var out []any
	for _, sub := range s.sortedSubscriptions() {
		if sub.tenantID == c.token.tenantID && s.hasAnyAssignment(c.principal.objectID, sub.id) {
			out = append(out, s.renderSubscription(sub))
		}
	}
	s.mu.Unlock()
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

func (s *Server) getSubscription(c *call) {
	s.mu.Lock()
	sub := s.st.subscriptions[strings.ToLower(c.params["subscriptionId"])]
	visible := s.hasAnyAssignment(c.principal.objectID, sub.id)
	s.mu.Unlock()
	if !visible {
		c.fail(authorizationFailed(c.principal, "Microsoft.Resources/subscriptions/read", "/subscriptions/"+sub.id))
		return
	}
	c.reply(http.StatusOK, s.renderSubscription(sub))
}

func (s *Server) renderSubscription(sub *subscription) map[string]any {
	return map[string]any{"id": "/subscriptions/" + sub.id, "subscriptionId": sub.id, "tenantId": sub.tenantID,
		"displayName": sub.name, "state": "Enabled", "authorizationSource": "RoleBased",
		"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}
}

func (s *Server) sortedSubscriptions() []*subscription {
	var out []*subscription
	for _, sub := range s.st.subscriptions {
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// listTenants lists the caller's tenant.
// https://learn.microsoft.com/rest/api/resources/tenants/list
func (s *Server) listTenants(c *call) {
	s.mu.Lock()
	t := s.st.tenants[c.token.tenantID]
	s.mu.Unlock()
	c.reply(http.StatusOK, map[string]any{"value": []any{map[string]any{"id": "/tenants/" + t.id, "tenantId": t.id,
		"tenantCategory": "Home", "displayName": t.name, "defaultDomain": strings.ToLower(t.name) + ".onmicrosoft.com"}}})
}

func (s *Server) renderGroup(g *resourceGroup) *armresources.ResourceGroup {
	return &armresources.ResourceGroup{ID: to.Ptr(g.id), Name: to.Ptr(g.name), Type: to.Ptr("Microsoft.Resources/resourceGroups"),
		Location: to.Ptr(g.location), Tags: toPtrMap(g.tags), Properties: &armresources.ResourceGroupProperties{ProvisioningState: to.Ptr("Succeeded")}}
}

func (s *Server) groupOf(c *call) *resourceGroup {
	return s.st.groups[key("/subscriptions/"+c.params["subscriptionId"]+"/resourceGroups/"+c.params["resourceGroupName"])]
}

// resourceGroupNotFound is ARM's answer for a missing resource group.
func resourceGroupNotFound(name string) *armError {
	return newError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", name)
}

func (s *Server) getResourceGroup(c *call) {
	s.mu.Lock()
	g := s.groupOf(c)
	s.mu.Unlock()
	if g == nil {
		c.fail(resourceGroupNotFound(c.params["resourceGroupName"]))
		return
	}
	c.reply(http.StatusOK, s.renderGroup(g))
}

// checkResourceGroup answers HEAD: 204 when it exists, 404 when not.
// https://learn.microsoft.com/rest/api/resources/resource-groups/check-existence
func (s *Server) checkResourceGroup(c *call) {
	s.mu.Lock()
	g := s.groupOf(c)
	s.mu.Unlock()
	if g == nil {
		c.reply(http.StatusNotFound, nil)
		return
	}
	c.reply(http.StatusNoContent, nil)
}

func (s *Server) listResourceGroups(c *call) {
	s.mu.Lock()
	var out []any
	var groups []*resourceGroup
	for _, g := range s.st.groups {
		if strings.EqualFold(g.subscription, c.params["subscriptionId"]) {
			groups = append(groups, g)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return key(groups[i].id) < key(groups[j].id) })
	for _, g := range groups {
		out = append(out, s.renderGroup(g))
	}
	s.mu.Unlock()
	c.reply(http.StatusOK, map[string]any{"value": orEmpty(out)})
}

// putResourceGroup creates a resource group (201) or updates its tags (200).
// https://learn.microsoft.com/rest/api/resources/resource-groups/create-or-update
func (s *Server) putResourceGroup(c *call) {
	var in armresources.ResourceGroup
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	if in.Location == nil || *in.Location == "" {
		c.fail(badRequest("LocationRequired", "The location property is required for this definition."))
		return
	}
	tags := map[string]string{}
	for k, v := range in.Tags {
		if v != nil {
			tags[k] = *v
		}
	}
	s.mu.Lock()
	g := s.groupOf(c)
	status := http.StatusOK
	if g == nil {
		sub := strings.ToLower(c.params["subscriptionId"])
		g = &resourceGroup{id: "/subscriptions/" + sub + "/resourceGroups/" + c.params["resourceGroupName"], subscription: sub,
			name: c.params["resourceGroupName"], location: *in.Location}
		s.st.groups[key(g.id)] = g
		status = http.StatusCreated
	} else if !strings.EqualFold(strings.ReplaceAll(g.location, " ", ""), strings.ReplaceAll(*in.Location, " ", "")) {
		s.mu.Unlock()
		c.fail(conflict("InvalidResourceGroupLocation", "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", *in.Location, g.location))
		return
	}
	g.tags = maps.Clone(tags)
	out := s.renderGroup(g)
	s.mu.Unlock()
	c.reply(status, out)
}

// metadataEndpoints is the cloud's endpoint discovery document, which
// `az cloud register --endpoint-resource-manager` reads.
// https://learn.microsoft.com/cli/azure/manage-clouds-azure-cli#register-a-new-cloud
func (s *Server) metadataEndpoints(c *call) {
	b := c.base
	doc := map[string]any{
		"galleryEndpoint": b + "/", "graphEndpoint": b + "/", "portalEndpoint": b + "/", "name": "AzureSim",
		"resourceManager": b + "/", "sqlManagement": b + "/", "batch": b + "/", "microsoftGraphResourceId": b + "/",
		"authentication": map[string]any{"loginEndpoint": b + "/adfs", "audiences": []string{armAudience, armAudienceAlt}, "tenant": "adfs", "identityProvider": "ADFS"},
		"media":          b + "/", "activeDirectoryDataLake": b + "/", "appInsightsResourceId": b + "/",
		"suffixes": map[string]any{"storage": "blob.azuresim.local", "keyVaultDns": "vault.azuresim.local", "acrLoginServer": "azurecr.azuresim.local"},
	}
	if c.r.URL.Query().Get("api-version") == "" {
		c.fail(badRequest("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return
	}
	c.reply(http.StatusOK, doc)
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}
