// Command cloudsim is the cloud range: it serves simulated clouds on a
// loopback address, seeded from a scenario file, for demos, exercises and
// rehearsals with a responder's own tools.
//
//	cloudsim --scenario testdata/scenarios/aws-two-accounts.json \
//	         [--listen 127.0.0.1:0] [--state-dir DIR] [--env-file PATH] [-v]
//
// The scenario file is a JSON object with one member per cloud; today "aws"
// (the format of awssim.Scenario). cloudsim writes the client configuration
// into the state directory (for AWS: a config and a credentials file with one
// profile per account) and an env file that points clients at it:
//
//	set -a; . ./cloudsim.env; set +a
//	aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-instances
//
// Secret keys are written only to those files, never to the terminal. It
// runs until SIGINT or SIGTERM, then shuts down cleanly and, when it created
// the state directory itself, removes it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	scenario string
	listen   string
	stateDir string
	envFile  string
	verbose  bool
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts options
	fs := flag.NewFlagSet("cloudsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.scenario, "scenario", "", "scenario `file` (JSON with one member per cloud: \"aws\")")
	fs.StringVar(&opts.listen, "listen", "127.0.0.1:0", "`address` to serve on")
	fs.StringVar(&opts.stateDir, "state-dir", "", "`directory` for generated client configuration (default: a temporary one, removed on exit)")
	fs.StringVar(&opts.envFile, "env-file", "", "`path` of the env file for clients (default: STATE_DIR/cloudsim.env)")
	fs.BoolVar(&opts.verbose, "v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
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
	clouds, err := loadClouds(opts.scenario, logger)
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
	} else if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
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
	var env []envVar
	for _, c := range clouds {
		vars, err := c.WriteClientFiles(stateDir, endpoint)
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

	srv := &http.Server{Handler: rangeHandler(clouds), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, "cloudsim: serving on %s\n", endpoint)
	for _, c := range clouds {
		for _, line := range c.Summary() {
			fmt.Fprintf(stdout, "cloudsim: %s: %s\n", c.Name(), line)
		}
	}
	fmt.Fprintf(stdout, "cloudsim: env file %s (set -a; . %s; set +a)\n", envFile, envFile)
	fmt.Fprintln(stdout, "cloudsim: ready")

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
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
	Close() error
}

// loadClouds builds every cloud the scenario file names.
func loadClouds(path string, logger *slog.Logger) ([]cloud, error) {
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
			c, err := newAWSCloud(raw, filepath.Dir(path), logger)
			if err != nil {
				return nil, fmt.Errorf("%s: aws: %w", path, err)
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
