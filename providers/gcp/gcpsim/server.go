package gcpsim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// DefaultSnapshotBytesPerSecond paces snapshot creation when the scenario
// sets no rate.
const DefaultSnapshotBytesPerSecond = 100 << 20

// DefaultWorkerTimeout bounds a startup script when the scenario sets none.
const DefaultWorkerTimeout = 30 * time.Minute

// DefaultTokenLifetime is how long an access token lives: an hour, as
// Google's OAuth server grants (expires_in 3599).
// https://developers.google.com/identity/protocols/oauth2/service-account#httprest
const DefaultTokenLifetime = time.Hour

// maxRequestBody bounds what the simulator reads of a request body.
const maxRequestBody = 8 << 20

// Options tune a Server. The zero value is ready to use.
type Options struct {
	// Logger receives one debug line per request; nil logs nothing.
	Logger *slog.Logger
	// Now is the simulator's clock; nil means time.Now. Snapshot progress,
	// operations, token expiry and request IDs follow it.
	Now func() time.Time
	// Sleep waits out injected latency; nil waits on the wall clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// State is a state written by SaveState for the same scenario; New
	// restores it over the scenario. nil starts from the scenario.
	State io.Reader
	// OnChange, when set, is called after each request that may have changed
	// the state (every mutating call, token grants aside) and when a worker
	// VM's script ends. It must return quickly.
	OnChange func()
	// WorkDir holds the worker VMs' devices and scripts; default: a
	// temporary directory removed by Close.
	WorkDir string
	// StorageDir, when set, keeps Cloud Storage objects in this directory
	// across restarts; default: in memory.
	StorageDir string
	// DisableWorkers leaves startup scripts unrun: instances a client
	// creates stay RUNNING and publish nothing.
	DisableWorkers bool
}

// Server is the Google Cloud simulator: an http.Handler serving Compute
// Engine, OAuth, IAM Credentials and Cloud Storage.
type Server struct {
	log            *slog.Logger
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
	onChange       func()
	ids            *idSource
	faults         *faultInjector
	snapRate       int64
	workerTimeout  time.Duration
	runWorkers     bool
	workDir        string
	ownWorkDir     bool
	tokenKey       []byte // signs access tokens and page tokens
	scenarioDigest string
	// scenarioContent is the content of every scenario disk by origin.
	scenarioContent map[string]*content
	routes          []route
	storage         *fakestorage.Server
	restored        *StateSummary
	// storageHost is where worker scripts reach Cloud Storage
	// (STORAGE_EMULATOR_HOST); "" until SetStorageURL.
	storageHost string
	// uploads are the resumable upload sessions; commitMu orders their
	// commits, so that a generation condition is checked and met at once.
	uploads  uploads
	commitMu sync.Mutex

	mu sync.Mutex
	st *state
	// workers are the running startup scripts, by instance key.
	workers sync.WaitGroup
	closed  bool
}

// New builds a simulator seeded with sc.
func New(sc *Scenario, opts *Options) (*Server, error) {
	if sc == nil {
		sc = &Scenario{}
	}
	if opts == nil {
		opts = &Options{}
	}
	faults, err := newFaultInjector(sc.Faults)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:             opts.Logger,
		now:             opts.Now,
		sleep:           opts.Sleep,
		onChange:        opts.OnChange,
		ids:             newIDSource(sc.Seed),
		faults:          faults,
		snapRate:        sc.SnapshotBytesPerSecond,
		workerTimeout:   sc.WorkerTimeout.D(),
		runWorkers:      !opts.DisableWorkers,
		workDir:         opts.WorkDir,
		scenarioContent: map[string]*content{},
		st:              newState(),
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
	if s.workerTimeout <= 0 {
		s.workerTimeout = DefaultWorkerTimeout
	}
	s.tokenKey = make([]byte, 32)
	rand.Read(s.tokenKey)
	s.routes = s.buildRoutes()
	if s.scenarioDigest, err = sc.digest(); err != nil {
		return nil, err
	}
	if s.storage, err = newStorage(opts.StorageDir); err != nil {
		return nil, err
	}
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
	if s.workDir == "" {
		if s.workDir, err = os.MkdirTemp("", "gcpsim-"); err != nil {
			s.Close()
			return nil, err
		}
		s.ownWorkDir = true
	}
	return s, nil
}

// Close stops the worker VMs, waits for their scripts to end and removes
// their devices.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, in := range s.st.instances {
		if in.worker != nil {
			in.worker.stop()
		}
	}
	s.mu.Unlock()
	s.workers.Wait()
	if s.storage != nil {
		s.storage.Stop()
	}
	if s.ownWorkDir {
		return os.RemoveAll(s.workDir)
	}
	return nil
}

// SetFaults replaces the injected faults; draws restart from f.Seed.
func (s *Server) SetFaults(f Faults) error {
	fi, err := newFaultInjector(f)
	if err != nil {
		return err
	}
	s.faults.replace(fi)
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == tokenPath:
		s.serveToken(w, r)
	case strings.HasPrefix(r.URL.Path, iamCredentialsPrefix):
		s.serveGenerateAccessToken(w, r)
	case r.URL.Path == userinfoPath:
		s.serveUserinfo(w, r)
	case strings.HasPrefix(r.URL.Path, googleAPIsPrefix):
		s.serveGoogleAPIs(w, r)
	case strings.HasPrefix(r.URL.Path, computePrefix):
		s.serveCompute(w, r)
	case s.isStorageRequest(r):
		s.serveStorage(w, r)
	default:
		writeError(w, newError(http.StatusNotFound, "notFound", "The requested URL %s was not found on this server.", r.URL.Path))
	}
}

// Claims reports whether a request is addressed to Google Cloud: the
// compute, OAuth, IAM Credentials and Cloud Storage paths.
func (s *Server) Claims(r *http.Request) bool {
	p := r.URL.Path
	return p == tokenPath || strings.HasPrefix(p, iamCredentialsPrefix) || p == userinfoPath || strings.HasPrefix(p, googleAPIsPrefix) ||
		strings.HasPrefix(p, computePrefix) || s.isStorageRequest(r)
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

// snapshotDuration is how long copying n bytes takes at the configured rate.
func (s *Server) snapshotDuration(n int64) time.Duration {
	if s.snapRate < 0 || n == 0 {
		return 0
	}
	return time.Duration(math.Ceil(float64(n) / float64(s.snapRate) * float64(time.Second)))
}

func (s *Server) count(method string) {
	s.mu.Lock()
	s.st.calls[method]++
	s.mu.Unlock()
}

func (s *Server) changed() {
	if s.onChange != nil {
		s.onChange()
	}
}

// readBody reads at most maxRequestBody bytes, refusing more.
func readBody(r *http.Request) ([]byte, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "badRequest", "reading the request body: %v", err)
	}
	if len(body) > maxRequestBody {
		return nil, newError(http.StatusRequestEntityTooLarge, "uploadTooLarge", "The request body is larger than %d bytes", maxRequestBody)
	}
	return body, nil
}

var errClosed = errors.New("the simulator is closed")
