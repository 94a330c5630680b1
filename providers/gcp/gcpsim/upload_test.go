package gcpsim

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestResumableUpload follows a session through the protocol's rules
// (https://cloud.google.com/storage/docs/performing-resumable-uploads): a
// chunk that is not a multiple of 256 KiB, a resent chunk after a lost
// answer, a chunk past what is held, a status query, the 308 override Google's
// clients ask for, the final chunk, a repeat after completion, a wrong
// declared MD5, and a cancel.
func TestResumableUpload(t *testing.T) {
	e := startSim(t, testScenario(), nil)
	const chunk = uploadChunkMultiple
	object := make([]byte, 2*chunk+1000)
	for i := range object {
		object[i] = byte(i * 7)
	}
	sum := md5.Sum(object)
	md5b64 := base64.StdEncoding.EncodeToString(sum[:])

	do := func(method, url, token string, hdr map[string]string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	start := func(name, md5 string) string {
		t.Helper()
		meta, _ := json.Marshal(map[string]string{"name": name, "md5Hash": md5})
		resp := do("POST", e.srv.URL+"/upload/storage/v1/b/acme-evidence-images/o?uploadType=resumable", e.token(workerSA),
			map[string]string{"Content-Type": "application/json"}, meta)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") == "" {
			t.Fatalf("start: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return resp.Header.Get("Location")
	}
	put := func(session, contentRange string, body []byte, hdr ...string) *http.Response {
		t.Helper()
		h := map[string]string{"Content-Range": contentRange}
		for i := 0; i+1 < len(hdr); i += 2 {
			h[hdr[i]] = hdr[i+1]
		}
		return do("PUT", session, "", h, body) // the session URI is the credential
	}
	want := func(resp *http.Response, status int, rng string) {
		t.Helper()
		if resp.StatusCode != status || resp.Header.Get("Range") != rng {
			t.Fatalf("answer %d with Range %q, want %d with %q", resp.StatusCode, resp.Header.Get("Range"), status, rng)
		}
	}

	s := start("image.raw", md5b64)
	want(put(s, "bytes 0-999/*", object[:1000]), http.StatusBadRequest, "")
	want(put(s, "bytes */*", nil), http.StatusPermanentRedirect, "") // nothing held: no Range
	want(put(s, fmt.Sprintf("bytes 0-%d/*", chunk-1), object[:chunk]), http.StatusPermanentRedirect, fmt.Sprintf("bytes=0-%d", chunk-1))
	// The answer was lost and the client sends the chunk again: it is held once.
	want(put(s, fmt.Sprintf("bytes 0-%d/*", chunk-1), object[:chunk]), http.StatusPermanentRedirect, fmt.Sprintf("bytes=0-%d", chunk-1))
	want(put(s, fmt.Sprintf("bytes %d-%d/*", 2*chunk, 3*chunk-1), object[:chunk]), http.StatusBadRequest, "")
	resp := put(s, fmt.Sprintf("bytes %d-%d/*", chunk, 2*chunk-1), object[chunk:2*chunk], "X-GUploader-No-308", "yes")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-HTTP-Status-Code-Override") != "308" || resp.Header.Get("Range") != fmt.Sprintf("bytes=0-%d", 2*chunk-1) {
		t.Fatalf("with X-GUploader-No-308: %d, override %q, Range %q", resp.StatusCode, resp.Header.Get("X-HTTP-Status-Code-Override"), resp.Header.Get("Range"))
	}
	total := len(object)
	want(put(s, fmt.Sprintf("bytes %d-%d/%d", 2*chunk, total-1, total), object[2*chunk:]), http.StatusOK, "")
	want(put(s, fmt.Sprintf("bytes */%d", total), nil), http.StatusOK, "") // after completion: the object again

	got := readObject(t, e, "image.raw")
	if !bytes.Equal(got, object) {
		t.Fatalf("the object holds %d bytes, not the %d uploaded", len(got), len(object))
	}

	// A declared MD5 the bytes do not have: refused at the commit, no object made.
	bad := start("forged.raw", base64.StdEncoding.EncodeToString(make([]byte, 16)))
	want(put(bad, fmt.Sprintf("bytes 0-%d/%d", total-1, total), object), http.StatusBadRequest, "")
	if code := getStatus(t, e, "forged.raw"); code != http.StatusNotFound {
		t.Fatalf("an object whose MD5 did not match was made: %d", code)
	}

	// A cancelled session answers 499, then 404.
	c := start("cancelled.raw", "")
	if resp := do("DELETE", c, "", nil, nil); resp.StatusCode != 499 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	want(put(c, "bytes */*", nil), http.StatusNotFound, "")

	// Only an authorized caller opens a session.
	meta := []byte(`{"name":"x.raw"}`)
	for who, token := range map[string]string{"no token": "", "the examiner": e.token(examiner)} {
		if resp := do("POST", e.srv.URL+"/upload/storage/v1/b/acme-evidence-images/o?uploadType=resumable", token, nil, meta); resp.StatusCode < 400 {
			t.Errorf("%s opened a session: %d", who, resp.StatusCode)
		}
	}
}

func readObject(t *testing.T, e *simEnv, name string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/storage/v1/b/acme-evidence-images/o/"+name+"?alt=media", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(responder))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reading %s: %d %v %s", name, resp.StatusCode, err, strings.TrimSpace(string(b)))
	}
	return b
}

func getStatus(t *testing.T, e *simEnv, name string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/storage/v1/b/acme-evidence-images/o/"+name, nil)
	req.Header.Set("Authorization", "Bearer "+e.token(responder))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
