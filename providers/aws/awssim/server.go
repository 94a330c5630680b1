package awssim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultSnapshotBytesPerSecond paces snapshots when the scenario sets no rate.
const DefaultSnapshotBytesPerSecond = 100 << 20

// DefaultGetSnapshotBlockPerSecond is the documented per-snapshot
// GetSnapshotBlock quota.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-resource-quotas.html
const DefaultGetSnapshotBlockPerSecond = 1000

// maxRequestBody bounds what the simulator reads of a request body.
const maxRequestBody = 8 << 20

// Options tune a Server. The zero value is ready to use.
type Options struct {
	// Logger receives one debug line per request; nil logs nothing.
	Logger *slog.Logger
	// Now is the simulator's clock; nil means time.Now. Snapshot progress,
	// locks, key deletion and eventual consistency all follow it.
	Now func() time.Time
	// SkipSignatureCheck accepts any signature from a known access key.
	SkipSignatureCheck bool
	// Sleep waits out injected latency (Faults.Latency, Faults.BlockLatency);
	// nil waits on the wall clock. A test can count the waits, or advance
	// its fake clock instead of waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// State is a state written by SaveState for the same scenario; New
	// restores it over the scenario, so that what clients created or changed
	// survives a restart of the process. nil starts from the scenario.
	State io.Reader
	// OnChange, when set, is called after each request that may have changed
	// the state, so that the caller can save it: every action but Describe*,
	// List*, Get*, Sign and Verify, and any request during which a key
	// reached the end of its deletion window or an AWS managed key was
	// created on first use. It runs on the request's goroutine and must
	// return quickly.
	OnChange func()
}

// Server is the AWS simulator: one http.Handler serving EC2 (Query), EBS
// direct (REST-JSON), KMS (JSON 1.1) and STS (Query), dispatched on the
// service named in the request's SigV4 credential scope.
type Server struct {
	log        *slog.Logger
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	verifySig  bool
	ids        *idSource
	faults     *faultInjector
	tokenKey   []byte // signs block and page tokens
	snapRate   int64  // bytes per second; < 0 completes at once
	blockQuota rate.Limit
	onChange   func()
	// scenarioDigest names the scenario a saved state belongs to.
	scenarioDigest string
	// scenarioDisks are the scenario volumes' disks by volume ID: the
	// content every other disk derives from. Written by load only.
	scenarioDisks map[string]*disk
	// diskDigests are their content digests, computed once on first use.
	diskDigests func() map[string]string
	// restored counts what Options.State brought back; nil when nothing was
	// restored.
	restored *StateSummary

	// Each service's actions, built once.
	ec2Actions map[string]ec2Handler
	kmsActions map[string]kmsHandler

	mu       sync.Mutex
	st       *state
	limiters map[string]*rate.Limiter // GetSnapshotBlock quota per snapshot
}

// New builds a simulator seeded with sc (nil for an empty one).
func New(sc *Scenario, opts *Options) (*Server, error) {
	if sc == nil {
		sc = &Scenario{}
	}
	if opts == nil {
		opts = &Options{}
	}
	if err := sc.Faults.check(); err != nil {
		return nil, err
	}
	s := &Server{
		log:        opts.Logger,
		now:        opts.Now,
		sleep:      opts.Sleep,
		onChange:   opts.OnChange,
		verifySig:  !opts.SkipSignatureCheck,
		ids:        newIDSource(sc.Seed),
		faults:     newFaultInjector(sc.Faults),
		ec2Actions: ec2Handlers(),
		kmsActions: kmsHandlers(),
		st:         newState(),
		limiters:   map[string]*rate.Limiter{},

		scenarioDisks: map[string]*disk{},
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
	// Tokens are signed with a key drawn from the seed, so that a seeded
	// scenario hands out the same tokens on every run.
	key := sha256.Sum256([]byte("awssim-token-key:" + s.ids.derive(64, "token-key")))
	s.tokenKey = key[:]
	s.snapRate = sc.SnapshotBytesPerSecond
	if s.snapRate == 0 {
		s.snapRate = DefaultSnapshotBytesPerSecond
	}
	switch q := sc.GetSnapshotBlockPerSecond; {
	case q < 0:
		s.blockQuota = rate.Inf
	case q == 0:
		s.blockQuota = DefaultGetSnapshotBlockPerSecond
	default:
		s.blockQuota = rate.Limit(q)
	}
	digest, err := sc.stateDigest()
	if err != nil {
		return nil, err
	}
	s.scenarioDigest = digest
	if err := s.load(sc); err != nil {
		s.Close()
		return nil, err
	}
	s.diskDigests = sync.OnceValue(s.computeDiskDigests)
	if opts.State != nil {
		if err := s.restore(opts.State); err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: %w", ErrStateRefused, err)
		}
	}
	// Loading may have created AWS managed keys; that is the starting point,
	// not a change.
	s.st.changedAside = false
	return s, nil
}

// Close releases the disk images.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	seen := map[*disk]bool{}
	for _, v := range s.st.volumes {
		if !seen[v.disk] {
			seen[v.disk] = true
			errs = append(errs, v.disk.close())
		}
	}
	return errors.Join(errs...)
}

// SetFaults replaces the injected faults; the random source restarts from
// f.Seed.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// call is one request on its way through the simulator.
type call struct {
	r         *http.Request
	body      []byte
	auth      sigV4Auth
	authErr   error
	service   string
	action    string
	region    string
	requestID string
	principal *principal
}

// service is one AWS API the simulator serves.
type service interface {
	// action names the operation, or returns "" if the request names none.
	action(c *call) string
	// known reports whether the service implements action.
	known(action string) bool
	serve(w http.ResponseWriter, c *call)
	writeError(w http.ResponseWriter, c *call, e *apiError)
	authCodes() authCodes
	throttled() *apiError
	internalError() *apiError
}

// authCodes are a service's answers to authentication failures.
type authCodes struct {
	status                                     int
	missing, unknownKey, badSignature, expired string
}

func (s *Server) service(name string) service {
	switch name {
	case "ec2":
		return ec2Service{s}
	case "ebs":
		return ebsService{s}
	case "kms":
		return kmsService{s}
	case "sts":
		return stsService{s}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "reading request body", http.StatusBadRequest)
		return
	}
	c := &call{r: r, body: body, requestID: s.ids.requestID()}
	c.auth, c.authErr = parseSigV4(r.Header.Get("Authorization"))
	c.service, c.region = c.auth.service, c.auth.region
	if c.authErr != nil {
		c.service = guessService(r)
	}
	svc := s.service(c.service)
	if svc == nil {
		http.Error(w, "unknown service "+c.service, http.StatusBadRequest)
		return
	}
	c.action = svc.action(c)
	w.Header().Set("x-amzn-RequestId", c.requestID)
	start := s.now()
	defer func() {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("service", c.service), slog.String("action", c.action),
			slog.String("region", c.region), slog.String("principal", principalARN(c.principal)),
			slog.Duration("elapsed", s.now().Sub(start)))
	}()

	changes := false
	if s.onChange != nil {
		defer func() { s.reportChange(changes) }()
	}
	if e := s.authenticate(c, svc.authCodes(), start); e != nil {
		svc.writeError(w, c, e)
		return
	}
	changes = svc.known(c.action) && changesState(c.action)
	// Only authenticated calls of implemented actions are counted, so that
	// junk requests cannot grow the table.
	if svc.known(c.action) {
		s.count(c.service + ":" + c.action)
	}
	fault := s.faults.forCall(c.service+":"+c.action, isDescribeAction(c.action))
	if err := s.sleep(r.Context(), fault.delay); err != nil {
		return
	}
	switch {
	case fault.throttle:
		svc.writeError(w, c, svc.throttled())
	case fault.serverError:
		svc.writeError(w, c, svc.internalError())
	case s.faults.loseReply(c.service + ":" + c.action):
		// The call is carried out; its answer never leaves: the connection is closed instead.
		svc.serve(discardWriter{header: http.Header{}}, c)
		panic(http.ErrAbortHandler)
	default:
		svc.serve(w, c)
	}
}

// discardWriter takes the answer of a call whose reply is lost.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// changesState reports whether an action may change the simulator's state:
// all but the read-only ones (Describe*, List*, Get*, Sign, Verify).
func changesState(action string) bool {
	return !isDescribeAction(action) && action != "Sign" && action != "Verify"
}

// reportChange calls Options.OnChange after a request that changed the state,
// by its action or aside from it (see state.changedAside).
func (s *Server) reportChange(byAction bool) {
	s.mu.Lock()
	aside := s.st.changedAside
	s.st.changedAside = false
	s.mu.Unlock()
	if byAction || aside {
		s.onChange()
	}
}

func principalARN(p *principal) string {
	if p == nil {
		return ""
	}
	return p.arn
}

// guessService routes a request that carries no usable signature, so that its
// error is written in the right protocol.
func guessService(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "TrentService."):
		return "kms"
	case strings.HasPrefix(r.URL.Path, "/snapshots"):
		return "ebs"
	case strings.Contains(r.URL.RawQuery, "Version=2011-06-15"):
		return "sts"
	}
	return "ec2"
}

// authenticate maps the access key to its principal and, unless disabled,
// verifies the signature. It also lets time do its work first (keys whose
// deletion window ended, expired sessions), so that the call sees the state
// of its own moment.
func (s *Server) authenticate(c *call, codes authCodes, now time.Time) *apiError {
	fail := func(code, msg string) *apiError { return newError(codes.status, code, "%s", msg) }
	if c.authErr != nil {
		if errors.Is(c.authErr, errNoAuth) {
			return fail(codes.missing, "Request is missing Authentication Token")
		}
		return fail(codes.missing, c.authErr.Error())
	}
	s.mu.Lock()
	s.st.expire(now)
	cred := s.st.credentials[c.auth.accessKeyID]
	s.mu.Unlock()
	token := c.r.Header.Get("X-Amz-Security-Token")
	if cred == nil {
		// Expired sessions are forgotten, but their tokens still say they
		// expired, as STS tokens do.
		if s.expiredSessionToken(c.auth.accessKeyID, token, now) {
			return fail(codes.expired, "The security token included in the request is expired")
		}
		return fail(codes.unknownKey, "The security token included in the request is invalid.")
	}
	if cred.sessionToken != "" && token != cred.sessionToken {
		return fail(codes.unknownKey, "The security token included in the request is invalid.")
	}
	if !cred.expires.IsZero() && !now.Before(cred.expires) {
		return fail(codes.expired, "The security token included in the request is expired")
	}
	if s.verifySig && !verifySigV4(c.r, c.body, c.auth, cred) {
		return fail(codes.badSignature, "The request signature we calculated does not match the signature you provided.")
	}
	c.principal = cred.principal
	return nil
}

func (s *Server) count(action string) {
	s.mu.Lock()
	s.st.calls[action]++
	s.mu.Unlock()
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

// snapshotDuration is how long copying data bytes takes at the configured
// rate.
func (s *Server) snapshotDuration(dataBytes int64) time.Duration {
	if s.snapRate < 0 || dataBytes == 0 {
		return 0
	}
	secs := float64(dataBytes) / float64(s.snapRate)
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// blockLimiter returns the GetSnapshotBlock quota of one snapshot. Callers
// hold s.mu.
func (s *Server) blockLimiter(snapshotID string) *rate.Limiter {
	l := s.limiters[snapshotID]
	if l == nil {
		burst := int(s.blockQuota)
		if burst < 1 {
			burst = 1
		}
		l = rate.NewLimiter(s.blockQuota, burst)
		s.limiters[snapshotID] = l
	}
	return l
}

// sign and verifyToken protect opaque tokens (pagination, block tokens) so
// that a client cannot forge or alter them.
func (s *Server) sign(payload string) string {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil)[:12])
}
