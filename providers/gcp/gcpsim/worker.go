package gcpsim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// A worker is the emulation of a VM that a client created with a
// startup-script in its metadata: the script runs on this machine as a
// process of its own, with the attached disks' content as files and a
// metadata server of its own. The emulation boundary (README.md, "Worker
// VMs") is what the script is given:
//
//   - GCE_METADATA_HOST: host:port of the instance's metadata server, the
//     variable Google's client libraries already honour instead of
//     metadata.google.internal;
//   - GCPSIM_DEVICE_DIR: the directory holding google-<deviceName> for each
//     attached disk, in place of /dev/disk/by-id (the disk's content as a
//     sparse raw file; read-only files for READ_ONLY disks);
//   - STORAGE_EMULATOR_HOST: the simulator's address for Cloud Storage,
//     the variable Google's storage libraries honour, when it is known;
//   - PATH, HOME and TMPDIR (a private directory), and nothing else of the
//     simulator's environment;
//   - it runs as the simulator's user, or as nobody when that is root, so
//     that file modes make READ_ONLY devices read-only.
//
// The instance is RUNNING while the script runs. When the script exits the
// instance is TERMINATED, as a VM whose script ends by powering it off; its
// exit status is kept for inspection. A script running longer than the
// scenario's workerTimeout is killed. Deleting the instance kills it.
// https://cloud.google.com/compute/docs/instances/startup-scripts/linux
type worker struct {
	dir       string
	deviceDir string
	metaHost  string
	srv       *http.Server
	cancel    context.CancelFunc
	stopOnce  sync.Once
}

func (w *worker) stop() { w.stopOnce.Do(w.cancel) }

// deviceNameRE is the rule for device names, which become file names.
// https://cloud.google.com/compute/docs/reference/rest/v1/instances (disks[].deviceName)
func validDeviceName(n string) bool { return nameRE.MatchString(n) }

// startWorker prepares and starts the instance's script. Callers hold s.mu.
func (s *Server) startWorker(in *instanceRes, script string) *apiError {
	if s.closed {
		return newError(http.StatusServiceUnavailable, "unavailable", "%v", errClosed)
	}
	fail := func(err error) *apiError {
		return newError(http.StatusInternalServerError, "backendError", "starting the simulated VM: %v", err)
	}
	dir := filepath.Join(s.workDir, "instance-"+itoa(int64(in.pb.GetId()>>1)))
	w := &worker{dir: dir, deviceDir: filepath.Join(dir, "dev")}
	// Run as root, the simulator runs the script as nobody, so that a
	// read-only device is read-only to it (root ignores file modes).
	asNobody := os.Geteuid() == 0
	if asNobody {
		// nobody must traverse the work directory to reach its own.
		os.Chmod(s.workDir, 0o711)
	}
	for _, sub := range []string{dir, w.deviceDir, filepath.Join(dir, "home"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(sub, 0o711); err != nil {
			return fail(err)
		}
		os.Chmod(sub, 0o711)
	}
	for _, sub := range []string{filepath.Join(dir, "home"), filepath.Join(dir, "tmp")} {
		if asNobody {
			os.Chown(sub, nobody, nobody)
			os.Chmod(sub, 0o700)
		}
	}
	for _, ad := range in.pb.GetDisks() {
		r, _ := parseRef(ad.GetSource(), "disks", "", "")
		d := s.st.disks[r.key()]
		if d == nil {
			continue
		}
		dev := filepath.Join(w.deviceDir, "google-"+ad.GetDeviceName())
		if err := d.content.materialize(dev); err != nil {
			os.RemoveAll(dir)
			return fail(err)
		}
		mode := os.FileMode(0o444)
		if ad.GetMode() == "READ_WRITE" {
			// Writes reach this copy only, never the disk's content.
			mode = 0o600
			if asNobody {
				os.Chown(dev, nobody, nobody)
			}
		}
		os.Chmod(dev, mode)
	}
	scriptPath := filepath.Join(dir, "startup-script")
	if err := os.WriteFile(scriptPath, []byte(script), 0o755); err != nil {
		os.RemoveAll(dir)
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return fail(err)
	}
	w.metaHost = ln.Addr().String()
	instanceKey := key(in.project, in.zone, in.pb.GetName())
	w.srv = &http.Server{Handler: s.metadataHandler(instanceKey), ReadHeaderTimeout: 10 * time.Second}
	go w.srv.Serve(ln)

	ctx, cancel := context.WithTimeout(context.Background(), s.workerTimeout)
	w.cancel = cancel
	cmd := exec.CommandContext(ctx, scriptPath)
	if !strings.HasPrefix(script, "#!") {
		cmd = exec.CommandContext(ctx, "/bin/bash", scriptPath)
	}
	cmd.Dir = filepath.Join(dir, "home")
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(dir, "home"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"GCE_METADATA_HOST=" + w.metaHost,
		"GCPSIM_DEVICE_DIR=" + w.deviceDir,
	}
	if s.storageHost != "" {
		cmd.Env = append(cmd.Env, "STORAGE_EMULATOR_HOST="+s.storageHost)
	}
	serial, err := os.Create(filepath.Join(dir, "serial-port-1.log"))
	if err != nil {
		cancel()
		w.srv.Close()
		os.RemoveAll(dir)
		return fail(err)
	}
	cmd.Stdout, cmd.Stderr = serial, serial
	// The script and everything it starts form one process group, killed
	// together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if asNobody {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		serial.Close()
		w.srv.Close()
		os.RemoveAll(dir)
		return fail(err)
	}
	in.worker = w
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		err := cmd.Wait()
		serial.Close()
		cancel()
		code := 0
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			code = -1
		}
		out, _ := os.ReadFile(serial.Name())
		s.workerEnded(instanceKey, w, code, out)
	}()
	return nil
}

// workerEnded powers the instance off once its script ends.
func (s *Server) workerEnded(instanceKey string, w *worker, code int, serial []byte) {
	w.srv.Close()
	s.mu.Lock()
	if in := s.st.instances[instanceKey]; in != nil && in.worker == w {
		in.worker = nil
		in.workerExit = &code
		if len(serial) > maxSerialOutput {
			serial = serial[len(serial)-maxSerialOutput:]
		}
		in.serial = serial
		in.pb.Status = stringPtr("TERMINATED")
	}
	s.mu.Unlock()
	os.RemoveAll(w.dir)
	s.changed()
}

func stringPtr(s string) *string { return &s }

// nobody is the user and group a script runs as when the simulator runs as
// root.
const nobody = 65534

// maxSerialOutput is how much of a script's output the simulator keeps.
const maxSerialOutput = 1 << 20

// getSerialPortOutput answers what the instance's script printed, once it
// ended (port 1, the console).
// https://cloud.google.com/compute/docs/reference/rest/v1/instances/getSerialPortOutput
func (s *Server) getSerialPortOutput(c *call) (proto.Message, *apiError) {
	in, e := c.theInstance("compute.instances.getSerialPortOutput")
	if e != nil {
		return nil, e
	}
	if p := c.r.URL.Query().Get("port"); p != "" && p != "1" {
		return nil, invalidField("port", p, "The simulator keeps serial port 1 only.")
	}
	return &computepb.SerialPortOutput{Kind: proto.String("compute#serialPortOutput"), Contents: proto.String(string(in.serial)),
		Start: proto.Int64(0), Next: proto.Int64(int64(len(in.serial))), SelfLink: proto.String(in.pb.GetSelfLink() + "/serialPort")}, nil
}
