package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// fleetResult is what one acquisition of (part of) the fleet measured, in the process that ran it:
// the simulator runs in a process of its own, so that the tool's CPU and memory are its own.
type fleetResult struct {
	Volumes    int            `json:"volumes"`
	Failures   int            `json:"failures"`
	Wall       float64        `json:"wallSeconds"`
	CPU        float64        `json:"cpuSeconds"` // user and system, of this process
	MaxRSS     int64          `json:"maxRssBytes"`
	Calls      map[string]int `json:"calls"`   // control-plane requests by service
	Retried    int            `json:"retried"` // answers that were throttling or server errors
	Engine     int            `json:"engineRetries"`
	FirstError string         `json:"firstError,omitempty"`
}

// startFleetSim serves the fleet of n instances from a cloudsim process and returns its endpoint.
func startFleetSim(ctx context.Context, dir string, n int) (string, func(), error) {
	scen := filepath.Join(dir, fmt.Sprintf("fleet-%d.json", n))
	if err := writeFleetScenario(scen, n); err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "cloudsim")
	if _, err := os.Stat(bin); err != nil {
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cloudsim").CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("building cloudsim: %v\n%s", err, out)
		}
	}
	cmd := exec.CommandContext(ctx, bin, "--scenario", scen, "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if endpoint, ok := strings.CutPrefix(sc.Text(), "cloudsim: serving on "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return endpoint, stop, nil
		}
	}
	stop()
	return "", nil, errors.New("cloudsim stopped before serving")
}

// measureFleet acquires instances of the fleet of n in a child process, against a fresh simulator.
func measureFleet(ctx context.Context, dir string, n int, instances []string) (fleetResult, error) {
	endpoint, stop, err := startFleetSim(ctx, dir, n)
	if err != nil {
		return fleetResult{}, err
	}
	defer stop()
	child := fleetChild{Endpoint: endpoint, Instances: instances}
	if profileDir != "" {
		child.Profile = filepath.Join(profileDir, fmt.Sprintf("fleet-%d-of-%d.prof", len(instances), n))
	}
	arg, _ := json.Marshal(child)
	cmd := exec.CommandContext(ctx, os.Args[0], "-fleet-child", string(arg))
	cmd.Stderr = os.Stderr
	// The child counts requests with its own HTTP client, which the SDK refuses to combine with a CA
	// bundle; the simulator speaks plain http on loopback.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		return fleetResult{}, fmt.Errorf("fleet child: %w", err)
	}
	var res fleetResult
	return res, json.Unmarshal(out, &res)
}

// fleetChild is what the child process is asked to acquire.
type fleetChild struct {
	Endpoint  string   `json:"endpoint"`
	Instances []string `json:"instances"`
	Profile   string   `json:"profile,omitempty"` // a CPU profile of the child's acquisition goes here
}

// runFleetChild is the child process: one acquisition, measured, printed as JSON.
func runFleetChild(ctx context.Context, spec string) error {
	var c fleetChild
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		return err
	}
	if c.Profile != "" {
		profileDir = filepath.Dir(c.Profile)
		defer startProfile(strings.TrimSuffix(filepath.Base(c.Profile), ".prof"))()
	}
	counter := &callCounter{calls: map[string]int{}, next: http.DefaultTransport.(*http.Transport).Clone()}
	counter.next.MaxIdleConnsPerHost = 256
	d, err := awsdriver.New(ctx, awsdriver.Config{
		Region: fleetRegion, ForensicAccount: fleetForensic, Endpoint: c.Endpoint, HTTPClient: &http.Client{Transport: counter},
		SourceCredentials:   credentials.NewStaticCredentialsProvider("AKIAFLEETSOURCE00001", "fleet-source-secret", ""),
		ForensicCredentials: credentials.NewStaticCredentialsProvider("AKIAFLEETFORENSIC001", "fleet-forensic-secret", ""),
		RetryMaxBackoff:     2 * time.Second,
	})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "acquire-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sv, _ := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	signer, err := custody.NewSigner(ctx, sv, "file")
	if err != nil {
		return err
	}
	l, err := custody.Create(ctx, filepath.Join(dir, "case"), "FLEET", custody.Options{Signer: signer, Operator: "bench"})
	if err != nil {
		return err
	}
	defer l.Close()
	var engineRetries atomic.Int64
	start := time.Now()
	res, runErr := acquisition.New(d).Run(ctx, acquisition.Options{
		Ledger: l, Target: driver.Target{Location: fleetRegion, Workloads: c.Instances},
		Destination:  driver.Destination{Account: fleetForensic, Key: fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", fleetRegion, fleetForensic, fleetKey)},
		PollInterval: time.Second, MaxPollInterval: 5 * time.Second,
		Progress: func(e acquisition.Event) {
			if e.Kind == acquisition.EventRetry {
				engineRetries.Add(1)
			}
		},
	})
	out := fleetResult{Wall: time.Since(start).Seconds(), Calls: counter.snapshot(), Retried: int(counter.retried.Load()), Engine: int(engineRetries.Load())}
	if res != nil {
		out.Volumes = len(res.Volumes)
		out.Failures = len(res.Volumes) - countAcquired(res)
	}
	if runErr != nil {
		out.FirstError = runErr.Error()
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		out.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		out.MaxRSS = ru.Maxrss << 10
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// callCounter counts the requests a client sends, by the service named in their SigV4 scope, and the
// answers that asked to try again (throttling or server errors).
type callCounter struct {
	next    *http.Transport
	mu      sync.Mutex
	calls   map[string]int
	retried atomic.Int64
}

func (c *callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	service := "unknown"
	if _, scope, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		if parts := strings.Split(scope, "/"); len(parts) > 3 {
			service = parts[3]
		}
	}
	c.mu.Lock()
	c.calls[service]++
	c.mu.Unlock()
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		c.retried.Add(1)
	case resp.StatusCode == http.StatusBadRequest:
		// KMS and EBS answer throttling with 400 and the error's name in the body.
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr == nil && (bytes.Contains(body, []byte("Throttl")) || bytes.Contains(body, []byte("LimitExceeded"))) {
			c.retried.Add(1)
		}
	}
	return resp, nil
}

func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// copyQuotaBound is the least time the fleet's copies take at 20 in flight per account and region:
// each volume's forensic copy in the forensic account, and the intermediate copy of each volume under
// the AWS managed key in the source account, each lasting its written bytes at the simulator's rate.
func copyQuotaBound(n int) float64 {
	sc := fleetScenario(n)
	rate := float64(sc.SnapshotBytesPerSecond)
	var forensic, source float64
	for _, v := range sc.Accounts[0].Volumes {
		d := float64(len(v.Synthetic.Blocks)) * (512 << 10) / rate
		forensic += d
		if v.Encrypted {
			source += d
		}
	}
	return max(forensic, source) / 20
}

func countAcquired(res *acquisition.Result) int {
	n := 0
	for _, v := range res.Volumes {
		if v.Error == "" && v.Digest != nil {
			n++
		}
	}
	return n
}

// fleetFigures: for each fleet size, the whole fleet against the slowest single instance's chain
// measured alone in the same run, each in its own process against its own simulator process.
func fleetFigures(ctx context.Context, sizes []int) ([]figure, error) {
	dir, err := os.MkdirTemp("", "acquire-fleet-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var figs []figure
	var cpuAt50 float64
	hashRate := sha256BlockRate(2*time.Second) * (512 << 10) // bytes per second on one core
	for _, n := range sizes {
		slowest := slowestInstance(n)
		fmt.Fprintf(os.Stderr, "bench: fleet of %d: the slowest instance alone (%s) ...\n", n, slowest)
		single, err := measureFleet(ctx, dir, n, []string{slowest})
		if err != nil || single.Failures > 0 {
			return nil, fmt.Errorf("fleet baseline: %v (%d failures: %s)", err, single.Failures, single.FirstError)
		}
		var all []string
		for i := range n {
			all = append(all, fmt.Sprintf("i-%017x", i+1))
		}
		fmt.Fprintf(os.Stderr, "bench: fleet of %d instances, %d volumes ...\n", n, 2*n)
		res, err := measureFleet(ctx, dir, n, all)
		if err != nil {
			return nil, err
		}
		vols := float64(2 * n)
		control := 0
		for svc, k := range res.Calls {
			if svc != "ebs" {
				control += k
			}
		}
		cpuPerVol := res.CPU / vols
		if n == sizes[0] {
			cpuAt50 = cpuPerVol
		}
		wallGoal := 1.25
		if n >= 500 {
			wallGoal = 1.10
		}
		// No schedule can beat the slowest chain, nor the cloud's quota of 20 copies in flight per
		// destination region in each account, nor this machine's cores hashing every image once (the
		// image SHA-256 covers every byte, zeros included): the baseline is the largest.
		bound, boundName := single.Wall, "slowest single chain"
		if q := copyQuotaBound(n); q > bound {
			bound, boundName = q, "copies at AWS's 20 per region"
		}
		if h := float64(2*n) * (1 << 30) / (hashRate * float64(runtime.NumCPU())); h > bound {
			bound, boundName = h, fmt.Sprintf("hashing %d GiB on %d cores", 2*n, runtime.NumCPU())
		}
		name := func(s string) string { return fmt.Sprintf("fleet of %d x 2: %s", n, s) }
		figs = append(figs,
			figure{area: "engine", name: name("wall time"), value: res.Wall, unit: "s", baseline: bound, baseName: boundName,
				goal: fmt.Sprintf("<= %.2f", wallGoal), pass: res.Wall <= wallGoal*bound, lowerIsBetter: true},
			figure{area: "engine", name: name("control-plane calls per volume"), value: float64(control) / vols, unit: "calls", goal: callsGoal(n), pass: n < 500 || float64(control)/vols <= 8},
			figure{area: "engine", name: name("retried answers per volume"), value: float64(res.Retried) / vols, unit: "", pass: true},
			figure{area: "engine", name: name("tool CPU per volume"), value: cpuPerVol * 1000, unit: "ms", baseline: cpuAt50 * 1000, baseName: fmt.Sprintf("at %d instances", sizes[0]),
				goal: "<= 1.20", pass: cpuPerVol <= 1.2*cpuAt50, lowerIsBetter: true},
			figure{area: "engine", name: name("tool peak RSS"), value: float64(res.MaxRSS) / (1 << 20), unit: "MiB", goal: "<= 512", pass: res.MaxRSS <= 512<<20},
			figure{area: "engine", name: name("failed volumes"), value: float64(res.Failures), unit: "", goal: "0", pass: res.Failures == 0},
		)
		if res.FirstError != "" && res.Failures > 0 {
			fmt.Fprintf(os.Stderr, "bench: fleet of %d: %s\n", n, res.FirstError)
		}
	}
	return figs, nil
}

// callsGoal is the goal on control-plane calls per volume: at most 8 from 500 instances on, where
// batched polling has amortized its rounds; information below that.
func callsGoal(instances int) string {
	if instances < 500 {
		return "(information; <= 8 from 500 instances)"
	}
	return "<= 8"
}
