package gcpsim

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/api/iterator"
)

// TestTokenAudience: the JWT bearer grant takes the audience Google documents for every token
// request (https://oauth2.googleapis.com/token, which gcloud sends whatever token_uri the key
// names) and this endpoint's own URL (the key's token_uri, which the client libraries send); any
// other audience is refused.
func TestTokenAudience(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	var key struct {
		PrivateKey string `json:"private_key"`
		Email      string `json:"client_email"`
	}
	data, err := os.ReadFile(e.keyFile(responder))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &key); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(key.PrivateKey))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	grant := func(aud string) int {
		t.Helper()
		now := time.Now()
		signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": key.Email, "aud": aud,
			"scope": "https://www.googleapis.com/auth/cloud-platform", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.PostForm(e.srv.URL+"/token", url.Values{"grant_type": {jwtBearerGrant}, "assertion": {signed}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for aud, want := range map[string]int{
		"https://oauth2.googleapis.com/token": http.StatusOK,
		e.srv.URL + "/token":                  http.StatusOK,
		"https://attacker.example/token":      http.StatusBadRequest,
		e.srv.URL + "/other":                  http.StatusBadRequest,
	} {
		if got := grant(aud); got != want {
			t.Errorf("audience %s: %d, want %d", aud, got, want)
		}
	}
}

// TestAggregatedDisks: disks.aggregatedList (what gcloud compute disks list asks for) keys the disks
// by zone, through the Go client's pager.
func TestAggregatedDisks(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	c := newClient(t, compute.NewDisksRESTClient, e.opts(responder))
	it := c.AggregatedList(t.Context(), &computepb.AggregatedListDisksRequest{Project: workloadProject})
	var names []string
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range pair.Value.GetDisks() {
			if !strings.HasSuffix(d.GetZone(), "/"+pair.Key[len("zones/"):]) {
				t.Errorf("disk %s of zone %s listed under %s", d.GetName(), d.GetZone(), pair.Key)
			}
			names = append(names, d.GetName())
		}
	}
	if len(names) == 0 || len(names) != len(e.sim.Disks(workloadProject)) {
		t.Fatalf("aggregated list gave %v, the project has %d disks", names, len(e.sim.Disks(workloadProject)))
	}
}
