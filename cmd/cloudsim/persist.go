package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// A range started with --state-dir keeps each simulated cloud's state in
// STATE_DIR/<cloud>-state.json: restored at start, saved after every
// request that changed it and once more at shutdown.
//
// Saving after each change, rather than on a timer, means that a range that
// is killed (SIGKILL, a crash, the machine going down) loses at most the
// changes made while the last save was being written, and that an idle
// range writes nothing. The save runs on its own goroutine, so requests
// never wait for the disk; changes that arrive during a save are coalesced
// into the next one. Each save replaces the file atomically, so a kill
// leaves the previous state or the new one, never a torn file.

// stateFile is where a cloud's state is kept in the state directory.
func stateFile(dir, cloudName string) string {
	return filepath.Join(dir, cloudName+"-state.json")
}

// openState opens a cloud's saved state, or returns nil when there is none.
func openState(dir, cloudName string) (*os.File, error) {
	f, err := os.Open(stateFile(dir, cloudName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// stateSaver writes the clouds' state files after changes, one save at a
// time.
type stateSaver struct {
	dir    string
	clouds []cloud
	kick   chan struct{} // holds at most one pending save
	stderr io.Writer
}

func newStateSaver(dir string, stderr io.Writer) *stateSaver {
	return &stateSaver{dir: dir, kick: make(chan struct{}, 1), stderr: stderr}
}

// changed asks for a save. It never blocks: a save already pending will
// include this change.
func (s *stateSaver) changed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// start runs the saver in the background until stop, which waits for a save
// in progress. A nil saver does nothing.
func (s *stateSaver) start() (stop func()) {
	if s == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx)
	}()
	return sync.OnceFunc(func() {
		cancel()
		<-done
	})
}

// report tells the user, for each cloud, whether state was restored and
// where it is kept. A nil saver says that none is.
func (s *stateSaver) report(w io.Writer) {
	if s == nil {
		fmt.Fprintln(w, "cloudsim: state is not kept across restarts (no --state-dir)")
		return
	}
	for _, c := range s.clouds {
		path := stateFile(s.dir, c.Name())
		if summary, ok := c.Restored(); ok {
			fmt.Fprintf(w, "cloudsim: %s: restored %s from %s\n", c.Name(), summary, path)
		} else {
			fmt.Fprintf(w, "cloudsim: %s: no saved state; started from the scenario; state kept in %s\n", c.Name(), path)
		}
	}
}

// run saves after each change until ctx is done. A failed save is reported
// and retried with the next change; the final save at shutdown reports its
// failure as an error.
func (s *stateSaver) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			if err := s.saveAll(); err != nil {
				fmt.Fprintln(s.stderr, "cloudsim:", err)
			}
		}
	}
}

// saveAll writes every cloud's state file.
func (s *stateSaver) saveAll() error {
	var errs []error
	for _, c := range s.clouds {
		path := stateFile(s.dir, c.Name())
		if err := writeFileAtomic(path, c.SaveState); err != nil {
			errs = append(errs, fmt.Errorf("saving %s state to %s: %w", c.Name(), path, err))
		}
	}
	return errors.Join(errs...)
}

// checkWritable proves the state directory writable before any client relies on it, without writing
// a state: a start that fails afterwards (an address in use, a client file that cannot be written)
// must not leave behind a state for this scenario that the next start, with the scenario corrected,
// would refuse.
func (s *stateSaver) checkWritable() error {
	f, err := os.CreateTemp(s.dir, ".cloudsim-writable-*")
	if err != nil {
		return fmt.Errorf("state directory %s: %w", s.dir, err)
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("state directory %s: %w", s.dir, err)
	}
	return nil
}

// removeStaleTemps deletes what an interrupted save left behind.
func (s *stateSaver) removeStaleTemps() {
	for _, c := range s.clouds {
		path := stateFile(s.dir, c.Name())
		stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
		for _, name := range stale {
			os.Remove(name)
		}
	}
}

// writeFileAtomic replaces path with what write produces: it writes a
// temporary file in the same directory, syncs it, renames it over path and
// syncs the directory, so that after a crash path holds the old content or
// the new, never a part. The file is readable by its owner only: a state
// holds signing keys.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a directory; the rename stands anyway.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
