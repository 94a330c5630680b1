package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// outDir is the directory an export writes into, held open: every file in it is created, opened,
// renamed and removed relative to it, without following a symbolic link. Evidence directories are
// often shared, and image names are known in advance (the snapshot ID), so a link planted under one
// of them must not make the export write elsewhere.
type outDir struct {
	path string
	f    *os.File
}

func openOutDir(path string) (*outDir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &outDir{path: path, f: f}, nil
}

func (d *outDir) close() error { return d.f.Close() }

func (d *outDir) join(name string) string { return filepath.Join(d.path, name) }

// ErrLink is returned when a file the export would write is a symbolic link.
var ErrLink = errors.New("is a symbolic link: an export never writes through a link; remove it and run the export again")

func (d *outDir) linkError(name string, err error) error {
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s %w", d.join(name), ErrLink)
	}
	return fmt.Errorf("opening %s: %w", d.join(name), err)
}

// open opens name in the directory without following a link at it.
func (d *outDir) open(name string, flag int, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(int(d.f.Fd()), name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, d.linkError(name, err)
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// exists says whether name is there; a link there is an error.
func (d *outDir) exists(name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(int(d.f.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("looking at %s: %w", d.join(name), err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return true, fmt.Errorf("%s %w", d.join(name), ErrLink)
	}
	return true, nil
}

// rename gives old the name new, replacing nothing that is a link.
func (d *outDir) rename(old, new string) error {
	if _, err := d.exists(new); errors.Is(err, ErrLink) {
		return err
	}
	if err := unix.Renameat(int(d.f.Fd()), old, int(d.f.Fd()), new); err != nil {
		return fmt.Errorf("naming %s: %w", d.join(new), err)
	}
	return nil
}

func (d *outDir) remove(name string) error {
	err := unix.Unlinkat(int(d.f.Fd()), name, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// writeSynced writes a small file whole and makes it durable.
func (d *outDir) writeSynced(name string, data []byte) error {
	f, err := d.open(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", d.join(name), err)
	}
	return nil
}

func (d *outDir) sync() error { return d.f.Sync() }
