// Command cloudsim is the cloud range: it serves simulated clouds on a
// loopback address, seeded from a scenario file, for demos, exercises and
// rehearsals with a responder's own tools.
//
//	cloudsim --scenario testdata/scenarios/aws-two-accounts.json \
//	         [--listen 127.0.0.1:0] [--state-dir DIR] [--env-file PATH] [-v]
//
// The scenario file is a JSON object with one member per cloud: "aws" (the
// format of awssim.Scenario), "gcp" (gcpsim.Scenario) and "azure"
// (azuresim.Scenario, served over TLS on a second listener, --tls-listen, with
// a CA written to the state directory). cloudsim writes the client configuration
// into the state directory (for AWS: a config and a credentials file with one
// profile per account) and an env file that points clients at it:
//
//	set -a; . ./cloudsim.env; set +a
//	aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-instances
//
// Secret keys are written only to those files, never to the terminal. It
// runs until SIGINT or SIGTERM, then shuts down cleanly and, when it created
// the state directory itself, removes it.
//
// With --state-dir the range keeps its state across restarts, as the real
// clouds do: what clients created or changed (for AWS: snapshots and copies
// with their tags, shares, locks and progress, volumes and attachments, KMS
// keys, aliases, grants, policies and pending deletions, AssumeRole
// sessions, and the ID counters) is restored from STATE_DIR/aws-state.json
// (for Google Cloud: STATE_DIR/gcp-state.json, bucket objects in
// STATE_DIR/gcp-storage)
// at start, saved after every request that changed it and again at
// shutdown. A responder can stop the range, start it again with the same
// scenario and --state-dir, and find the snapshots and keys an interrupted
// acquisition left; a killed range loses at most the last moment's changes.
// Progress, locks and deletion windows carry on by the clock while the range
// is down. Disk contents are not copied: snapshots refer to the scenario's
// images, which must not change. A state saved for another scenario (faults
// aside) is refused; remove the state file to start afresh. Pass a fixed
// --listen address to keep the same endpoint across restarts; otherwise
// source the env file again.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	scenario  string
	listen    string
	tlsListen string
	stateDir  string
	envFile   string
	verbose   bool
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts options
	// The same flag library as acquire's: --long flags, -v for short.
	fs := pflag.NewFlagSet("cloudsim", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudsim --scenario FILE [flags]")
		fs.PrintDefaults()
	}
	fs.StringVar(&opts.scenario, "scenario", "", "scenario `file` (JSON with one member per cloud: \"aws\", \"gcp\", \"azure\")")
	fs.StringVar(&opts.listen, "listen", "127.0.0.1:0", "`address` to serve on")
	fs.StringVar(&opts.tlsListen, "tls-listen", "127.0.0.1:0", "`address` to serve TLS-only clouds (Azure) on")
	fs.StringVar(&opts.stateDir, "state-dir", "", "`directory` for generated client configuration and the state kept across restarts (default: a temporary one, removed on exit, and no state kept)")
	fs.StringVar(&opts.envFile, "env-file", "", "`path` of the env file for clients (default: STATE_DIR/cloudsim.env)")
	fs.BoolVarP(&opts.verbose, "verbose", "v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if opts.scenario == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "cloudsim: --scenario is required and no arguments are taken")
		fs.Usage()
		return exitUsage
	}
	if err := serve(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "cloudsim:", err)
		return exitError
	}
	return exitOK
}

func serve(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	logger := slog.New(slog.DiscardHandler)
	if opts.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// State is kept only in a directory the user names: a temporary one
	// would not outlive the process.
	var saver *stateSaver
	if opts.stateDir != "" {
		if err := os.MkdirAll(opts.stateDir, 0o700); err != nil {
			return err
		}
		saver = newStateSaver(opts.stateDir, stderr)
	}
	clouds, err := loadClouds(opts.scenario, logger, saver)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range clouds {
			c.Close()
		}
	}()

	stateDir := opts.stateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "cloudsim-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	if saver != nil {
		saver.clouds = clouds
		saver.removeStaleTemps()
		if err := saver.checkWritable(); err != nil {
			return err
		}
	}
	envFile := opts.envFile
	if envFile == "" {
		envFile = filepath.Join(stateDir, "cloudsim.env")
	}

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return err
	}
	endpoint := "http://" + ln.Addr().String()
	// Clouds that speak TLS only (Azure) get a listener of their own.
	tlsLn, tlsConfig, err := listenTLS(clouds, opts.tlsListen)
	if err != nil {
		ln.Close()
		return err
	}
	var env []envVar
	for _, c := range clouds {
		ep := endpoint
		if _, ok := c.(tlsCloud); ok {
			ep = "https://" + tlsLn.Addr().String()
		}
		vars, err := c.WriteClientFiles(stateDir, ep)
		if err != nil {
			ln.Close()
			return fmt.Errorf("%s client files: %w", c.Name(), err)
		}
		env = append(env, vars...)
	}
	if err := writeEnvFile(envFile, env); err != nil {
		ln.Close()
		return err
	}

	stopSaver := saver.start()
	defer stopSaver()

	srv := &http.Server{Handler: rangeHandler(clouds), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var tlsSrv *http.Server
	if tlsLn != nil {
		tlsSrv = &http.Server{Handler: rangeHandler(clouds), TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second}
		go tlsSrv.ServeTLS(tlsLn, "", "")
		defer tlsSrv.Close()
	}

	fmt.Fprintf(stdout, "cloudsim: serving on %s\n", endpoint)
	if tlsLn != nil {
		fmt.Fprintf(stdout, "cloudsim: serving TLS on https://%s\n", tlsLn.Addr())
	}
	for _, c := range clouds {
		for _, line := range c.Summary() {
			fmt.Fprintf(stdout, "cloudsim: %s: %s\n", c.Name(), line)
		}
	}
	saver.report(stdout)
	fmt.Fprintf(stdout, "cloudsim: env file %s (set -a; . %s; set +a)\n", envFile, envFile)
	fmt.Fprintln(stdout, "cloudsim: ready")

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		serveErr = srv.Shutdown(shutdownCtx)
		if tlsSrv != nil {
			tlsSrv.Shutdown(shutdownCtx)
		}
		if err := <-served; serveErr == nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	// No request is served any more: the last save sees the final state,
	// whatever ended the serving.
	if saver != nil {
		stopSaver()
		if err := saver.saveAll(); err != nil {
			return errors.Join(serveErr, err)
		}
		fmt.Fprintf(stdout, "cloudsim: state saved in %s\n", opts.stateDir)
	}
	if serveErr != nil {
		return serveErr
	}
	fmt.Fprintln(stdout, "cloudsim: stopped")
	return nil
}

// cloud is one simulated cloud in the range.
type cloud interface {
	Name() string
	http.Handler
	// Claims reports whether a request is addressed to this cloud.
	Claims(r *http.Request) bool
	// WriteClientFiles writes the cloud's client configuration into dir and
	// returns the environment variables that point clients at it.
	WriteClientFiles(dir, endpoint string) ([]envVar, error)
	// Summary is what the terminal may show: no secrets.
	Summary() []string
	// SaveState writes what clients created or changed, for restoring at
	// the next start (see loadClouds).
	SaveState(w io.Writer) error
	// Restored says how much saved state the cloud restored at start; ok is
	// false when it started from the scenario alone.
	Restored() (summary string, ok bool)
	Close() error
}

// loadClouds builds every cloud the scenario file names. With a saver, each
// cloud restores the state saved in the saver's directory, if any, and
// reports its changes to the saver.
func loadClouds(path string, logger *slog.Logger, saver *stateSaver) ([]cloud, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var clouds []cloud
	for name, raw := range members {
		switch name {
		case "aws":
			c, err := loadAWSCloud(raw, filepath.Dir(path), logger, saver)
			if err != nil {
				return nil, fmt.Errorf("%s: aws: %w", path, err)
			}
			clouds = append(clouds, c)
		case "azure":
			c, err := loadAzureCloud(raw, filepath.Dir(path), logger, saver)
			if err != nil {
				return nil, fmt.Errorf("%s: azure: %w", path, err)
			}
			clouds = append(clouds, c)
		case "gcp":
			c, err := loadGCPCloud(raw, filepath.Dir(path), logger, saver)
			if err != nil {
				return nil, fmt.Errorf("%s: gcp: %w", path, err)
			}
			clouds = append(clouds, c)
		default:
			return nil, fmt.Errorf("%s: cloud %q is not simulated", path, name)
		}
	}
	if len(clouds) == 0 {
		return nil, fmt.Errorf("%s names no cloud", path)
	}
	return clouds, nil
}

// listenTLS opens the TLS listener when a cloud needs one, with that
// cloud's certificate.
func listenTLS(clouds []cloud, addr string) (net.Listener, *tls.Config, error) {
	for _, c := range clouds {
		if tc, ok := c.(tlsCloud); ok {
			ln, err := net.Listen("tcp", addr)
			return ln, tc.TLSConfig(), err
		}
	}
	return nil, nil, nil
}

// rangeHandler sends each request to the cloud that claims it.
func rangeHandler(clouds []cloud) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range clouds {
			if c.Claims(r) {
				c.ServeHTTP(w, r)
				return
			}
		}
		http.Error(w, "cloudsim: no simulated cloud serves this request", http.StatusNotFound)
	})
}
