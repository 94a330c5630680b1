package gcpsim

import (
	"net/http"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// disks.testIamPermissions answers the subset of the permissions asked about
// that the caller holds, for each caller; a disk that does not exist is 404.
func TestDiskTestIamPermissions(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	ask := []string{"compute.disks.get", "compute.disks.createSnapshot", "compute.disks.delete", "compute.instances.delete"}
	for _, tc := range []struct {
		who  string
		want []string
	}{
		// roles/compute.storageAdmin and roles/compute.viewer in the workload project.
		{responder, []string{"compute.disks.get", "compute.disks.createSnapshot", "compute.disks.delete"}},
		// no binding in the workload project.
		{examiner, nil},
	} {
		disks := e.disks(tc.who)
		got, err := disks.TestIamPermissions(t.Context(), &computepb.TestIamPermissionsDiskRequest{Project: workloadProject, Zone: testZone, Resource: "web-1",
			TestPermissionsRequestResource: &computepb.TestPermissionsRequest{Permissions: ask}})
		if err != nil {
			t.Fatalf("%s: %v", tc.who, err)
		}
		if !slices.Equal(got.GetPermissions(), tc.want) {
			t.Errorf("%s holds %v, want %v", tc.who, got.GetPermissions(), tc.want)
		}
	}
	_, err := e.disks(responder).TestIamPermissions(t.Context(), &computepb.TestIamPermissionsDiskRequest{Project: workloadProject, Zone: testZone, Resource: "no-such-disk",
		TestPermissionsRequestResource: &computepb.TestPermissionsRequest{Permissions: ask}})
	wantAPIError(t, err, http.StatusNotFound, "notFound")
}
