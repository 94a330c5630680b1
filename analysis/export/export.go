package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/providers/aws/ebsblocks"
)

// Source reads an evidence copy block by block, verified, in ascending order from a block index
// (*ebsblocks.Reader does).
type Source interface {
	Volume() ebsblocks.Volume
	Read(ctx context.Context, from int64, visit func(ebsblocks.Block) error) error
}

// Options tune an export.
type Options struct {
	Progress  func(done, total int64) // bytes of the image settled, of its size
	SyncEvery int                     // blocks written between durable progress marks; default 1024 (512 MiB)
	Logger    *slog.Logger            // silent when nil
}

// Result says what an export produced.
type Result struct {
	Path            string `json:"path"`    // the raw image (or, on a mismatch, the file set aside)
	Sidecar         string `json:"sidecar"` // SHA-256 in `sha256sum -c` format
	ImageSHA256     string `json:"imageSha256"`
	BlockListSHA256 string `json:"blockListSha256"`
	Match           bool   `json:"match"`
	SizeBytes       int64  `json:"sizeBytes"`
	ResumedFrom     int64  `json:"resumedFromBytes"` // bytes found on disk from an interrupted export, re-verified and kept
	Downloaded      int64  `json:"downloadedBytes"`
}

// ErrMismatch is returned when the exported content does not have the digest the case recorded.
var ErrMismatch = errors.New("the exported image does not match the digest recorded in custody")

// ErrExists is returned when the image was exported to the directory already.
var ErrExists = errors.New("already exported")

// Export writes item to dir/<snapshot>.raw as a sparse raw image: blocks the snapshot does not list
// stay holes. Every block is checked against its checksum as it arrives, the whole image against the
// digest the case recorded at the end, and only a matching image gets its final name and a sidecar;
// until then the file is <snapshot>.raw.partial, with a journal of what is durably written. An
// interrupted export resumes from its journal, re-reading and re-checking what is on disk, never
// trusting a block it did not see synced. A mismatch leaves <snapshot>.raw.mismatch and ErrMismatch.
func Export(ctx context.Context, item Item, src Source, dir string, opts *Options) (*Result, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(int64, int64) {}
	}
	vol := src.Volume()
	if item.SizeBytes != 0 && item.SizeBytes != vol.Size {
		return nil, fmt.Errorf("the copy %s is %d bytes, the case recorded %d", item.Snapshot, vol.Size, item.SizeBytes)
	}
	base := filepath.Join(dir, item.Snapshot+".raw")
	final, partial, journalPath := base, base+".partial", base+".journal"
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("%s: %w (remove it to export again)", final, ErrExists)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	x := &exporter{vol: vol, o: o, image: sha256.New(), blocks: sha256.New(), res: &Result{SizeBytes: vol.Size}}
	if err := x.open(partial, journalPath, item.Snapshot); err != nil {
		return nil, err
	}
	defer x.close()
	if err := x.resume(); err != nil {
		return nil, err
	}
	x.w = newDiskWriter(x.data, vol.BlockSize)
	x.res.ResumedFrom = x.next * vol.BlockSize
	err := src.Read(ctx, x.next, x.write)
	if err == nil {
		err = x.finish()
	}
	if err != nil {
		return x.res, err
	}
	x.res.ImageSHA256 = hex.EncodeToString(x.image.Sum(nil))
	x.res.BlockListSHA256 = hex.EncodeToString(x.blocks.Sum(nil))
	x.close()
	os.Remove(journalPath)
	if x.res.ImageSHA256 != item.ImageSHA256 {
		x.res.Path = base + ".mismatch"
		if err := os.Rename(partial, x.res.Path); err != nil {
			return x.res, err
		}
		return x.res, fmt.Errorf("%w: %s has SHA-256 %s, custody record %d says %s", ErrMismatch, item.Snapshot, x.res.ImageSHA256, item.Record, item.ImageSHA256)
	}
	x.res.Match = true
	if err := os.Rename(partial, final); err != nil {
		return x.res, fmt.Errorf("naming the image: %w", err)
	}
	x.res.Path = final
	x.res.Sidecar = final + ".sha256"
	if err := writeSynced(x.res.Sidecar, []byte(x.res.ImageSHA256+"  "+filepath.Base(final)+"\n")); err != nil {
		return x.res, err
	}
	return x.res, syncDir(dir)
}

// exporter is one export in progress.
type exporter struct {
	vol      ebsblocks.Volume
	o        Options
	data     *os.File
	journal  *os.File
	image    hash.Hash // SHA-256 of the image so far, zeros included
	blocks   hash.Hash // SHA-256 over the listed blocks' SHA-256s
	offset   int64     // bytes of the image hashed so far
	next     int64     // the block the download resumes from
	pending  []string  // journal lines not yet written
	unsynced int
	res      *Result
	written  map[int64][32]byte // blocks journaled before a resume, by index
	w        *diskWriter        // writes blocks while the next one is hashed
}

const journalHeader = "acquire-export v1"

func (x *exporter) open(partial, journalPath, snapshot string) error {
	var err error
	if x.data, err = os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return fmt.Errorf("opening %s: %w", partial, err)
	}
	if x.journal, err = os.OpenFile(journalPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return fmt.Errorf("opening %s: %w", journalPath, err)
	}
	header := fmt.Sprintf("%s %s %d %d", journalHeader, snapshot, x.vol.Size, x.vol.BlockSize)
	committed, marks, err := readJournal(x.journal, header)
	if err != nil {
		x.o.Logger.Warn("export journal unreadable; starting over", "journal", journalPath, "error", err)
		committed, marks = nil, 0
	}
	if marks == 0 {
		if err := x.journal.Truncate(0); err != nil {
			return err
		}
		if _, err := x.journal.WriteString(header + "\n"); err != nil {
			return fmt.Errorf("writing %s: %w", journalPath, err)
		}
	}
	x.written, x.next = committed, marks
	return nil
}

// readJournal returns the blocks written before the last durable mark, and that mark.
func readJournal(f *os.File, header string) (map[int64][32]byte, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil, 0, nil // new
	}
	if sc.Text() != header {
		return nil, 0, fmt.Errorf("journal is for another export: %q", sc.Text())
	}
	all := map[int64][32]byte{}
	committed := map[int64][32]byte{}
	var mark int64
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 3 && fields[0] == "b":
			i, err1 := strconv.ParseInt(fields[1], 10, 64)
			raw, err2 := hex.DecodeString(fields[2])
			if err1 != nil || err2 != nil || len(raw) != 32 {
				return committed, mark, nil // a torn last line: what follows the last mark does not count
			}
			all[i] = [32]byte(raw)
		case len(fields) == 2 && fields[0] == "m":
			m, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || m < mark {
				return committed, mark, nil
			}
			mark = m
			for i, sum := range all {
				if i < mark {
					committed[i] = sum
				}
			}
		default:
			return committed, mark, nil
		}
	}
	return committed, mark, sc.Err()
}

// resume re-reads and re-checks the blocks an interrupted export durably wrote, and drops anything
// written after its last mark. If the prefix does not check out, the export starts over.
func (x *exporter) resume() error {
	bs := x.vol.BlockSize
	if x.next > 0 {
		if err := x.recheck(); err != nil {
			x.o.Logger.Warn("the interrupted export's data does not check; starting over", "error", err)
			x.image.Reset()
			x.blocks.Reset()
			x.offset, x.next, x.written = 0, 0, nil
			if err := x.journal.Truncate(0); err != nil {
				return err
			}
			if _, err := x.journal.WriteString(fmt.Sprintf("%s %s %d %d\n", journalHeader, x.vol.SnapshotID, x.vol.Size, bs)); err != nil {
				return err
			}
		}
	}
	// Everything past the last mark is dropped, so that no block half-written by a crash survives; the
	// file grows again as blocks are written, and to its full size, with holes, at the end.
	if err := x.data.Truncate(x.next * bs); err != nil {
		return fmt.Errorf("preparing %s: %w", x.data.Name(), err)
	}
	return nil
}

func (x *exporter) recheck() error {
	bs := x.vol.BlockSize
	buf := make([]byte, bs)
	for i := int64(0); i < x.next; i++ {
		n := min(bs, x.vol.Size-i*bs)
		clear(buf[:n])
		if _, err := x.data.ReadAt(buf[:n], i*bs); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("re-reading block %d: %w", i, err)
		}
		sum := sha256.Sum256(buf[:n])
		want, listed := x.written[i]
		switch {
		case listed && sum != want:
			return fmt.Errorf("block %d on disk does not match the checksum it was written with", i)
		case !listed && !allZero(buf[:n]):
			return fmt.Errorf("block %d on disk should be zeros", i)
		}
		x.image.Write(buf[:n])
		if listed {
			x.blocks.Write(want[:])
		}
		x.offset += n
	}
	x.o.Progress(x.offset, x.vol.Size)
	return nil
}

// write takes one verified block: zeros up to it into the image hash, its data to disk and to the hashes.
func (x *exporter) write(b ebsblocks.Block) error {
	at := b.Index * x.vol.BlockSize
	if err := x.w.write(b.Data, at); err != nil {
		return err
	}
	x.hashZeros(at)
	x.image.Write(b.Data)
	x.blocks.Write(b.SHA256[:])
	x.offset = at + int64(len(b.Data))
	x.res.Downloaded += int64(len(b.Data))
	x.pending = append(x.pending, fmt.Sprintf("b %d %x", b.Index, b.SHA256))
	x.unsynced++
	x.o.Progress(x.offset, x.vol.Size)
	if x.unsynced >= x.o.SyncEvery {
		return x.mark(b.Index + 1)
	}
	return nil
}

// mark makes the data written so far durable, then says so in the journal.
func (x *exporter) mark(next int64) error {
	if err := x.w.flush(); err != nil {
		return err
	}
	if err := x.data.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", x.data.Name(), err)
	}
	lines := strings.Join(x.pending, "\n")
	if lines != "" {
		lines += "\n"
	}
	if _, err := x.journal.WriteString(lines + "m " + strconv.FormatInt(next, 10) + "\n"); err != nil {
		return fmt.Errorf("writing %s: %w", x.journal.Name(), err)
	}
	if err := x.journal.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", x.journal.Name(), err)
	}
	x.pending, x.unsynced = x.pending[:0], 0
	return nil
}

func (x *exporter) finish() error {
	x.hashZeros(x.vol.Size)
	if err := x.data.Truncate(x.vol.Size); err != nil { // trailing zeros: holes
		return fmt.Errorf("writing %s: %w", x.data.Name(), err)
	}
	blocks := (x.vol.Size + x.vol.BlockSize - 1) / x.vol.BlockSize
	if err := x.mark(blocks); err != nil {
		return err
	}
	x.o.Progress(x.vol.Size, x.vol.Size)
	return nil
}

var zeroBlock = make([]byte, 1<<20)

// hashZeros feeds the image hash the zeros of unlisted blocks up to offset end.
func (x *exporter) hashZeros(end int64) {
	for x.offset < end {
		n := min(end-x.offset, int64(len(zeroBlock)))
		x.image.Write(zeroBlock[:n])
		x.offset += n
	}
}

func (x *exporter) close() {
	if x.w != nil {
		x.w.stop()
		x.w = nil
	}
	if x.data != nil {
		x.data.Close()
		x.data = nil
	}
	if x.journal != nil {
		x.journal.Close()
		x.journal = nil
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
