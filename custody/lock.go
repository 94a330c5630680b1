package custody

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when another process holds a case open for writing.
var ErrLocked = errors.New("case is locked by another writer")

// lockHolder is written into the lock file so that the error a second writer gets can name the first.
type lockHolder struct {
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	User    string `json:"user"`
	Command string `json:"command"`
	Since   string `json:"since"`
}

// caseLock is an exclusive advisory lock on a case directory (flock on CASE/.lock). The kernel drops it
// when the process dies, so a crash never leaves a case locked.
type caseLock struct{ f *os.File }

func lockCase(dir string, holder lockHolder) (*caseLock, error) {
	path := filepath.Join(dir, lockFile)
	// Never through a link: the lock is truncated and written, and a link planted in its place must
	// not make a writer overwrite a file elsewhere.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = ErrLink
		}
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("opening lock %s: %w", path, errNotRegular)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (wait for it to finish, or stop it)", ErrLocked, describeHolder(f))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	data, _ := json.Marshal(holder)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(data, '\n'), 0)
	}
	return &caseLock{f: f}, nil
}

func describeHolder(f *os.File) string {
	data := make([]byte, 4096)
	n, _ := f.ReadAt(data, 0)
	var h lockHolder
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(data[:n]))), &h); err != nil || h.PID == 0 {
		return "held by a process that did not say who it is"
	}
	return fmt.Sprintf("held by pid %d (%s@%s, %q, since %s)", h.PID, h.User, h.Host, h.Command, h.Since)
}

func (l *caseLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

func currentHolder(user string) lockHolder {
	host, _ := os.Hostname()
	return lockHolder{
		PID:     os.Getpid(),
		Host:    host,
		User:    user,
		Command: strings.Join(os.Args, " "),
		Since:   FormatTime(time.Now()),
	}
}
