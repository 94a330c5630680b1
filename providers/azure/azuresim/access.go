package azuresim

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// beginGetAccess and endGetAccess on disks, snapshots and disk restore
// points: a read SAS for the data as a page blob, revoked by endGetAccess
// or at the end of its duration.
// https://learn.microsoft.com/rest/api/compute/snapshots/grant-access
// https://learn.microsoft.com/rest/api/compute/disks/grant-access
// https://learn.microsoft.com/rest/api/compute/disk-restore-point/grant-access

// maxSASPerFamily: "you can have at most five SAS at a time" for a disk and
// the snapshots made from it [the documentation names no error code].
// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions
const maxSASPerFamily = 5

// exportable is what beginGetAccess works on.
type exportable struct {
	id, kind, subscription, family string
	content                        *content
	dataAccessAuthMode, network    string
	notReady                       string // why the data cannot be read yet
}

// exportTarget resolves the route's resource. Callers hold s.mu.
func (s *Server) exportTarget(c *call) (*exportable, *armError) {
	sub := strings.ToLower(c.params["subscriptionId"])
	rg := c.params["resourceGroupName"]
	switch {
	case c.params["drp"] != "":
		id := resourceIDOf(sub, rg, "Microsoft.Compute", "restorePointCollections", c.params["name"], "restorePoints", c.params["rp"], "diskRestorePoints", c.params["drp"])
		d := s.st.drps[key(id)]
		if d == nil {
			return nil, notFound(id)
		}
		e := &exportable{id: d.id, kind: "diskRestorePoints", subscription: sub, family: d.family, content: d.content,
			dataAccessAuthMode: d.dataAccessAuthMode, network: d.networkAccessPolicy}
		if rp := s.st.rps[key(d.restorePoint)]; rp != nil && rp.provisioningState(c.now) != "Succeeded" {
			e.notReady = "the restore point's provisioningState is " + rp.provisioningState(c.now)
		}
		return e, nil
	case strings.Contains(strings.ToLower(c.r.URL.Path), "/microsoft.compute/snapshots/"):
		id := c.targetID("Microsoft.Compute", "snapshots")
		sn := s.st.snapshots[key(id)]
		if sn == nil {
			return nil, notFound(id)
		}
		e := &exportable{id: sn.id, kind: "snapshots", subscription: sub, family: sn.family, content: sn.content,
			dataAccessAuthMode: sn.dataAccessAuthMode, network: sn.networkAccessPolicy}
		switch st := sn.provisioningState(c.now); {
		case st != "Succeeded":
			e.notReady = "its provisioningState is " + st
		case (sn.copyStart || sn.slowCopy) && sn.completionPercent(c.now) < 100:
			// https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#check-snapshot-status
			e.notReady = "its completionPercent has not reached 100"
		}
		return e, nil
	default:
		id := c.targetID("Microsoft.Compute", "disks")
		d := s.st.disks[key(id)]
		if d == nil {
			return nil, notFound(id)
		}
		e := &exportable{id: d.id, kind: "disks", subscription: sub, family: key(d.id), content: d.content,
			dataAccessAuthMode: d.dataAccessAuthMode, network: d.networkAccessPolicy}
		// A disk attached to a VM that is not deallocated cannot be
		// exported.
		// https://learn.microsoft.com/azure/virtual-machines/windows/download-vhd#generate-download-url
		if vm := s.st.vms[key(d.managedBy)]; vm != nil && vm.powerState != "deallocated" {
			e.notReady = "it is attached to virtual machine " + vm.name + ", which is not deallocated"
		}
		return e, nil
	}
}

func (s *Server) grantAccess(c *call) {
	var in armcompute.GrantAccessData
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	if in.Access == nil || *in.Access != armcompute.AccessLevelRead {
		c.fail(badRequest("InvalidParameter", "access must be Read: the simulator exports data and does not serve uploads (Write)."))
		return
	}
	if in.DurationInSeconds == nil || *in.DurationInSeconds <= 0 {
		c.fail(badRequest("InvalidParameter", "durationInSeconds must be a positive number of seconds."))
		return
	}
	s.mu.Lock()
	t, e := s.exportTarget(c)
	if e == nil {
		e = s.checkExport(t, c.now)
	}
	if e != nil {
		s.mu.Unlock()
		c.fail(e)
		return
	}
	g := &accessGrant{id: s.ids.newGUID("sas"), resourceID: t.id, family: t.family, content: t.content,
		expires: c.now.Add(time.Duration(*in.DurationInSeconds) * time.Second), aadOnly: t.dataAccessAuthMode == "AzureActiveDirectory",
		resourceKind: t.kind}
	g.container = hex.EncodeToString(s.ids.derive("sas-container/" + g.id)[:6])
	s.st.grants[g.id] = g
	s.mu.Unlock()
	c.startOperation(&operation{subscription: t.subscription, location: "westeurope", provider: "DiskOperations", method: http.MethodPost,
		resourceID: t.id, output: "accessSAS", grantID: g.id, ends: c.now}, http.StatusAccepted, nil)
}

// checkExport applies the export rules. Callers hold s.mu.
func (s *Server) checkExport(t *exportable, now time.Time) *armError {
	// https://learn.microsoft.com/azure/virtual-machines/disks-restrict-import-export-overview
	if t.network == "DenyAll" {
		return conflict("OperationNotAllowed", "%s has networkAccessPolicy DenyAll: its data cannot be exported. Change the policy to AllowAll (or AllowPrivate with a disk access) first.", t.id)
	}
	if t.notReady != "" {
		return conflict("OperationNotAllowed", "The data of %s cannot be exported yet: %s.", t.id, t.notReady)
	}
	active := 0
	for _, g := range s.st.grants {
		if g.family == t.family && g.active(now) {
			active++
		}
	}
	if active >= maxSASPerFamily {
		return conflict("OperationNotAllowed", "%s already has %d active SAS in its snapshot family, the most allowed at a time: end access on one (endGetAccess) first.", t.id, active)
	}
	return nil
}

// revokeAccess ends every SAS of the resource.
func (s *Server) revokeAccess(c *call) {
	s.mu.Lock()
	t, e := s.exportTarget(c)
	if e != nil {
		s.mu.Unlock()
		c.fail(e)
		return
	}
	for _, g := range s.st.grants {
		if key(g.resourceID) == key(t.id) && !g.revoked {
			g.revoked = true
		}
	}
	s.mu.Unlock()
	c.startOperation(&operation{subscription: t.subscription, location: "westeurope", provider: "DiskOperations", method: http.MethodPost,
		resourceID: t.id, output: "none", ends: c.now}, http.StatusAccepted, nil)
}

// sasVersion is the service version managed disk SAS carry.
const sasVersion = "2018-03-28"

// sasURL is a grant's URL: a blob in an export account of the simulator's
// host, with a stored-access-policy SAS (si) signed by the simulator.
// https://learn.microsoft.com/rest/api/storageservices/create-service-sas
func (s *Server) sasURL(base, grantID string) string {
	s.mu.Lock()
	g := s.st.grants[grantID]
	s.mu.Unlock()
	if g == nil {
		return ""
	}
	path := "/" + s.sasAccount(g) + "/" + g.container + "/abcd"
	q := url.Values{}
	q.Set("sv", sasVersion)
	q.Set("sr", "b")
	q.Set("si", g.id)
	q.Set("sig", s.sasSignature(g.id, path))
	return base + path + "?" + q.Encode()
}

func (s *Server) sasAccount(g *accessGrant) string {
	return "md-" + hex.EncodeToString(s.ids.derive("sas-account/" + g.family)[:6])
}

func (s *Server) sasSignature(si, path string) string {
	return base64.StdEncoding.EncodeToString(s.mac("r\n\n\n" + path + "\n" + si + "\n\n\n" + sasVersion + "\nb\n"))
}
