package azuresim

// The Permissions API of Microsoft.Authorization: what the caller may do at
// a resource group, as one entry per role assignment that applies there (at
// the resource group or above it), each with that role's actions and
// exclusions. A client evaluates an action as ARM does: allowed when an
// entry's actions match it and the same entry's notActions do not. Any
// authenticated caller may list its own permissions.
// https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource-group
// https://learn.microsoft.com/azure/role-based-access-control/role-definitions#notactions

// apiPermissions is the Permissions API's versions.
// https://learn.microsoft.com/rest/api/authorization/permissions
var apiPermissions = apiFamily{name: "Microsoft.Authorization/permissions", exact: []string{"2015-07-01", "2018-01-01-preview", "2022-04-01"}}

func (s *Server) listPermissions(c *call) {
	scope := "/subscriptions/" + c.params["subscriptionId"] + "/resourceGroups/" + c.params["resourceGroupName"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.groupMissing(c); e != nil {
		c.fail(e)
		return
	}
	out := []any{}
	for _, a := range s.st.assignments {
		if a.principalObjectID != c.principal.objectID || !withinScope(scope, a.scope) {
			continue
		}
		out = append(out, map[string]any{
			"actions": orEmptyStrings(a.role.actions), "notActions": orEmptyStrings(a.role.notActions),
			"dataActions": orEmptyStrings(a.role.dataActions), "notDataActions": orEmptyStrings(a.role.notDataActions),
		})
	}
	c.reply(200, map[string]any{"value": out})
}

func orEmptyStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
