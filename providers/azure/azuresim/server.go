package azuresim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultSnapshotBytesPerSecond paces snapshots when the scenario sets no
// rate.
const DefaultSnapshotBytesPerSecond = 100 << 20

// maxRequestBody bounds what the simulator reads of a request body.
const maxRequestBody = 1 << 20

// Options tune a Server. The zero value is ready to use.
type Options struct {
	// Logger receives one debug line per request; nil logs nothing.
	Logger *slog.Logger
	// Now is the simulator's clock; nil means time.Now. Snapshot progress,
	// operations, token and SAS lifetimes follow it.
	Now func() time.Time
	// Sleep waits out injected latency; nil waits on the wall clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// CA issues the server certificate; nil generates a new one.
	CA *CA
	// State is a state written by SaveState for the same scenario; New
	// restores it over the scenario. nil starts from the scenario.
	State io.Reader
	// OnChange, when set, is called after each request that may have
	// changed the state (every PUT, PATCH, POST and DELETE, and token
	// requests), so that the caller can save it. It runs on the request's
	// goroutine and must return quickly.
	OnChange func()
}

// Server is the Azure simulator: one http.Handler serving Azure Resource
// Manager, Microsoft Entra ID's token endpoint and the SAS blob endpoint
// of managed disk exports, over TLS (see TLSConfig).
type Server struct {
	log        *slog.Logger
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	onChange   func()
	ids        *idSource
	faults     *faultInjector
	ca         *CA
	tlsCert    tls.Certificate
	tokenKey   *ecdsa.PrivateKey // signs access tokens (ES256)
	sasKey     []byte            // signs SAS query strings
	snapRate   int64
	retryAfter int
	tokenLife  time.Duration

	scenarioDigest string
	restored       *StateSummary
	// scenarioContent is each scenario disk's content by key(ID).
	scenarioContent map[string]*content

	routes []route

	mu sync.Mutex
	st *state
}

// New builds a simulator seeded with sc.
func New(sc *Scenario, opts *Options) (*Server, error) {
	if sc == nil {
		sc = &Scenario{}
	}
	if opts == nil {
		opts = &Options{}
	}
	s := &Server{
		log: opts.Logger, now: opts.Now, sleep: opts.Sleep, onChange: opts.OnChange,
		ids: newIDSource(sc.Seed), faults: newFaultInjector(sc.Faults), ca: opts.CA,
		snapRate: sc.SnapshotBytesPerSecond, retryAfter: sc.RetryAfterSeconds, tokenLife: sc.TokenLifetime.D(),
		st: newState(), scenarioContent: map[string]*content{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = sleep
	}
	if s.snapRate == 0 {
		s.snapRate = DefaultSnapshotBytesPerSecond
	}
	switch {
	case s.retryAfter == 0:
		s.retryAfter = 1
	case s.retryAfter < 0:
		s.retryAfter = 0
	}
	if s.tokenLife <= 0 {
		s.tokenLife = time.Hour
	}
	var err error
	if s.ca == nil {
		if s.ca, err = NewCA(); err != nil {
			return nil, err
		}
	}
	if s.tlsCert, err = s.ca.serverCertificate(); err != nil {
		return nil, err
	}
	// Keys derive from the seed, so that tokens and SAS handed out before a
	// restart stay valid after it, as they do on the real cloud.
	if s.tokenKey, err = deriveECKey(s.ids.derive("token-signing-key")); err != nil {
		return nil, err
	}
	s.sasKey = s.ids.derive("sas-signing-key")
	if s.scenarioDigest, err = sc.stateDigest(); err != nil {
		return nil, err
	}
	s.routes = s.armRoutes()
	if err := s.load(sc); err != nil {
		s.Close()
		return nil, err
	}
	if opts.State != nil {
		if err := s.restore(opts.State); err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: %w", ErrStateRefused, err)
		}
	}
	return s, nil
}

// deriveECKey makes a P-256 key from 32 bytes of seed material.
func deriveECKey(seed []byte) (*ecdsa.PrivateKey, error) {
	n := elliptic.P256().Params().N
	d := new(big.Int).SetBytes(seed)
	d.Mod(d, new(big.Int).Sub(n, big.NewInt(1)))
	d.Add(d, big.NewInt(1))
	return ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32)))
}

// Close releases the disk images.
func (s *Server) Close() error {
	var errs []error
	for _, c := range s.scenarioContent {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// TLSConfig is the server side of TLS: the simulator's certificate, for
// 127.0.0.1, ::1 and localhost, issued by CA. HTTP/1.1 only, so that a lost
// reply can close the connection it came on.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.tlsCert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
}

// CA is the certificate authority clients must trust.
func (s *Server) CA() *CA { return s.ca }

// SetFaults replaces the injected faults; the random source restarts from
// f.Seed and the rules' counts from zero.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// ServeHTTP implements http.Handler. Requests are told apart by path:
// ARM (/subscriptions, /tenants, /providers, /metadata), Entra ID
// (/{tenant}/oauth2/..., /{tenant}/v2.0/..., /common/discovery/...,
// /adfs/...) and the SAS blob endpoint (/md-.../...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	first, _, _ := strings.Cut(strings.TrimLeft(r.URL.Path, "/"), "/")
	switch lower := strings.ToLower(first); {
	case lower == "subscriptions" || lower == "tenants" || lower == "providers" || lower == "metadata":
		s.serveARM(w, r)
	case strings.HasPrefix(lower, "md-"):
		s.serveBlob(w, r)
	case isGUID(first) || lower == "common" || lower == "organizations" || lower == "adfs" || s.isTenantName(first):
		s.serveAAD(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"InvalidResourceNamespace","message":"The request path is not one the simulator serves."}}`)
	}
}

func (s *Server) isTenantName(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.st.tenants {
		if t.name != "" && strings.EqualFold(t.name, name) {
			return true
		}
	}
	return false
}

func (s *Server) count(op string) {
	s.mu.Lock()
	s.st.calls[op]++
	s.mu.Unlock()
}

func (s *Server) changed() {
	if s.onChange != nil {
		s.onChange()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// copyDuration is how long copying n bytes takes at the configured rate.
func (s *Server) copyDuration(n int64) time.Duration {
	if s.snapRate < 0 || n == 0 {
		return 0
	}
	return time.Duration(math.Ceil(float64(n) / float64(s.snapRate) * float64(time.Second)))
}

// mac signs a payload with the SAS key.
func (s *Server) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.sasKey)
	m.Write([]byte(payload))
	return m.Sum(nil)
}
