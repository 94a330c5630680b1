// Package testtsa runs a real RFC 3161 time-stamping authority on loopback for tests: OpenSSL's
// `openssl ts -reply` behind a small HTTP handler, with its own root CA and a time-stamping
// certificate (critical extended key usage timeStamping), made fresh for each test.
package testtsa

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

// TSA is a running time-stamping authority.
type TSA struct {
	URL     string // POST application/timestamp-query here
	RootPEM []byte // the root CA certificate time-stamps chain to
	Calls   func() int
}

const opensslConfig = `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = placeholder
[ root_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = .
serial = ./serial
crypto_device = builtin
signer_cert = ./tsa.crt
certs = ./root.crt
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.2.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`

// Start makes the authority's keys and certificates and serves it until the test ends.
func Start(t testing.TB) *TSA {
	t.Helper()
	openssl := testenv.RequireTool(t, "openssl")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "openssl.cnf"), []byte(opensslConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serial"), []byte("01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "root.key")
	run("req", "-new", "-x509", "-config", "openssl.cnf", "-extensions", "root_ext", "-key", "root.key",
		"-subj", "/CN=acquire test TSA root", "-days", "3650", "-out", "root.crt")
	run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "tsa.key")
	run("req", "-new", "-config", "openssl.cnf", "-key", "tsa.key", "-subj", "/CN=acquire test TSA", "-out", "tsa.csr")
	run("x509", "-req", "-in", "tsa.csr", "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial",
		"-extfile", "openssl.cnf", "-extensions", "tsa_ext", "-days", "3650", "-out", "tsa.crt")
	root, err := os.ReadFile(filepath.Join(dir, "root.crt"))
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex // openssl ts -reply keeps its serial number in a file
		calls int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "POST application/timestamp-query", http.StatusBadRequest)
			return
		}
		query, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		cmd := exec.Command(openssl, "ts", "-reply", "-config", "openssl.cnf", "-queryfile", "/dev/stdin", "-out", "/dev/stdout")
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(query)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			http.Error(w, fmt.Sprintf("openssl ts: %v: %s", err, stderr.String()), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return &TSA{URL: srv.URL, RootPEM: root, Calls: func() int { mu.Lock(); defer mu.Unlock(); return calls }}
}
