package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// Options tune an export.
type Options struct {
	Progress  func(done, total int64) // bytes of the image delivered (verified, on their way to disk), of its size
	SyncEvery int                     // blocks written between durable progress marks; default 128 (64 MiB)
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
func Export(ctx context.Context, item evidence.Item, src driver.BlockSource, dir string, opts *Options) (*Result, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.SyncEvery <= 0 {
		// A virtual disk's host caches writes, and a sync pays for all it holds: frequent marks
		// spread that cost over the download instead of leaving it all to the final sync.
		o.SyncEvery = 128
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(int64, int64) {}
	}
	vol := src.Geometry()
	if item.SizeBytes != 0 && item.SizeBytes != vol.Size {
		return nil, fmt.Errorf("the copy %s is %d bytes, the case recorded %d", item.Snapshot, vol.Size, item.SizeBytes)
	}
	out, err := openOutDir(dir)
	if err != nil {
		return nil, err
	}
	defer out.close()
	name := ImageName(item.Snapshot)
	final, partial, journalName := name+".raw", name+".raw.partial", name+".raw.journal"
	if ok, err := out.exists(final); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%s: %w", out.join(final), ErrExists)
		}
		return &Result{Path: out.join(final), Sidecar: out.join(final + ".sha256"), SizeBytes: vol.Size}, err
	}
	x := &exporter{vol: vol, snapshot: item.Snapshot, o: o, image: sha256.New(), blocks: sha256.New(), res: &Result{SizeBytes: vol.Size}}
	if err := x.open(out, partial, journalName); err != nil {
		return nil, err
	}
	defer x.close()
	if err := x.resume(); err != nil {
		return nil, err
	}
	// Every buffer goes through both queues: in use at once are at most the longer queue, the block
	// each worker holds and the one being handed over.
	x.bufs = newBufferPool(vol.BlockSize, max(writeQueue, evidence.HashQueue)+3)
	x.hash = evidence.NewImageHasher(x.image, x.offset)
	x.w = newDiskWriter(x.data, x.data.Sync, x.commit)
	x.res.ResumedFrom = x.next * vol.BlockSize
	x.res.Path = out.join(partial)
	err = src.ReadBlocks(ctx, x.next, x.write)
	if err == nil {
		err = x.finish()
	}
	if err != nil {
		return x.res, err
	}
	x.res.BlockListSHA256 = hex.EncodeToString(x.blocks.Sum(nil))
	x.close()
	if err := out.remove(journalName); err != nil {
		return x.res, err
	}
	if x.res.ImageSHA256 != item.ImageSHA256() {
		if err := out.rename(partial, final+".mismatch"); err != nil {
			return x.res, err
		}
		x.res.Path = out.join(final + ".mismatch")
		return x.res, fmt.Errorf("%w: %s has SHA-256 %s, custody record %d says %s", ErrMismatch, item.Snapshot, x.res.ImageSHA256, item.Record, item.ImageSHA256())
	}
	x.res.Match = true
	if err := out.rename(partial, final); err != nil {
		return x.res, err
	}
	x.res.Path = out.join(final)
	x.res.Sidecar = out.join(final + ".sha256")
	if err := out.writeSynced(final+".sha256", []byte(x.res.ImageSHA256+"  "+final+"\n")); err != nil {
		return x.res, err
	}
	return x.res, out.sync()
}

// exporter is one export in progress.
type exporter struct {
	vol      driver.Geometry
	snapshot string
	o        Options
	data     *os.File
	journal  *os.File
	image    hash.Hash // SHA-256 of the image so far, zeros included, until the hasher takes it
	blocks   hash.Hash // SHA-256 over the listed blocks' SHA-256s
	offset   int64     // bytes of the image delivered so far
	next     int64     // the block the download resumes from
	pending  []string  // journal lines for the blocks queued since the last mark
	res      *Result
	written  map[int64][32]byte // blocks journaled before a resume, by index
	bufs     *bufferPool
	hash     *evidence.ImageHasher // hashes the image while the blocks are written
	w        *diskWriter           // writes blocks while they are hashed
}

const journalHeader = "acquire-export v1"

func (x *exporter) open(out *outDir, partial, journalName string) error {
	var err error
	if x.data, err = out.open(partial, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return err
	}
	if x.journal, err = out.open(journalName, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return err
	}
	journalPath := out.join(journalName)
	header := fmt.Sprintf("%s %s %d %d", journalHeader, x.snapshot, x.vol.Size, x.vol.BlockSize)
	j, err := readJournal(x.journal, header)
	if err != nil {
		x.o.Logger.Warn("export journal unreadable; starting over", "journal", journalPath, "error", err)
		j = journalState{}
	}
	if j.mark == 0 {
		if err := x.journal.Truncate(0); err != nil {
			return err
		}
		if _, err := x.journal.WriteString(header + "\n"); err != nil {
			return fmt.Errorf("writing %s: %w", journalPath, err)
		}
	} else if err := x.journal.Truncate(j.end); err != nil {
		// What follows the last mark (a line torn by a crash or a full disk) would otherwise run into
		// the lines this run appends, and hide them from the next resume.
		return fmt.Errorf("preparing %s: %w", journalPath, err)
	}
	x.written, x.next = j.committed, j.mark
	return nil
}

// journalState is what a journal vouches for: the blocks written before its last durable mark, that
// mark, and the length of the journal up to the end of the mark's line.
type journalState struct {
	committed map[int64][32]byte
	mark, end int64
}

// readJournal reads a journal up to its last durable mark; anything after it does not count.
func readJournal(f *os.File, header string) (journalState, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return journalState{}, err
	}
	r := bufio.NewReader(f)
	first, err := r.ReadString('\n')
	if first == "" && err == io.EOF {
		return journalState{}, nil // new
	}
	if strings.TrimSuffix(first, "\n") != header {
		return journalState{}, fmt.Errorf("journal is for another export: %q", first)
	}
	j := journalState{committed: map[int64][32]byte{}}
	since := map[int64][32]byte{} // blocks listed after the last mark
	offset := int64(len(first))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return j, nil // a line without its newline is torn
			}
			return j, err
		}
		offset += int64(len(line))
		fields := strings.Fields(line)
		switch {
		case len(fields) == 3 && fields[0] == "b":
			i, err1 := strconv.ParseInt(fields[1], 10, 64)
			raw, err2 := hex.DecodeString(fields[2])
			if err1 != nil || err2 != nil || len(raw) != 32 {
				return j, nil
			}
			since[i] = [32]byte(raw)
		case len(fields) == 2 && fields[0] == "m":
			m, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || m < j.mark {
				return j, nil
			}
			for i, sum := range since {
				if i < m {
					j.committed[i] = sum
					delete(since, i)
				}
			}
			j.mark, j.end = m, offset
		default:
			return j, nil
		}
	}
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
			if _, err := x.journal.WriteString(fmt.Sprintf("%s %s %d %d\n", journalHeader, x.snapshot, x.vol.Size, bs)); err != nil {
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

// write takes one verified block: a copy of it goes to the disk and to the image hash, which work on it
// at the same time, and its checksum to the block-list hash and the journal.
func (x *exporter) write(b driver.Block) error {
	if err := x.w.failed(); err != nil {
		return err
	}
	at := b.Index * x.vol.BlockSize
	sum := b.Sum
	if sum == nil {
		s := sha256.Sum256(b.Data)
		sum = &s
	}
	buf := x.bufs.get(b.Data, 2)
	x.hash.Add(at, buf.bytes(), buf.release)
	x.w.write(buf, at)
	x.blocks.Write(sum[:])
	x.offset = at + int64(len(b.Data))
	x.res.Downloaded += int64(len(b.Data))
	x.pending = append(x.pending, fmt.Sprintf("b %d %x", b.Index, *sum))
	x.o.Progress(x.offset, x.vol.Size)
	if len(x.pending) >= x.o.SyncEvery {
		return x.mark(b.Index + 1)
	}
	return nil
}

// mark has the blocks queued so far made durable and then recorded in the journal, while the
// download goes on.
func (x *exporter) mark(next int64) error {
	err := x.w.mark(durableMark{next: next, lines: x.pending})
	x.pending = nil
	return err
}

// commit records a mark in the journal; the disk writer calls it once the image is synced.
func (x *exporter) commit(m durableMark) error {
	var b strings.Builder
	for _, line := range m.lines {
		b.WriteString(line + "\n")
	}
	b.WriteString("m " + strconv.FormatInt(m.next, 10) + "\n")
	if _, err := x.journal.WriteString(b.String()); err != nil {
		return fmt.Errorf("writing %s: %w", x.journal.Name(), err)
	}
	if err := x.journal.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", x.journal.Name(), err)
	}
	return nil
}

// finish completes the image hash, waits for every block to be written, gives the image its full
// size (trailing zeros are holes) and makes it durable.
func (x *exporter) finish() error {
	x.res.ImageSHA256 = hex.EncodeToString(x.hash.Sum(x.vol.Size))
	if err := x.w.flush(); err != nil {
		return err
	}
	if err := x.data.Truncate(x.vol.Size); err != nil {
		return fmt.Errorf("writing %s: %w", x.data.Name(), err)
	}
	blocks := (x.vol.Size + x.vol.BlockSize - 1) / x.vol.BlockSize
	if err := x.mark(blocks); err != nil {
		return err
	}
	if err := x.w.flush(); err != nil {
		return err
	}
	x.o.Progress(x.vol.Size, x.vol.Size)
	return nil
}

func (x *exporter) close() {
	if x.hash != nil {
		x.hash.Stop()
		x.hash = nil
	}
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

// zeros is compared against in chunks: bytes.Equal runs at memory speed and stops at the first difference.
var zeros [64 << 10]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// ImageName is the file name an image of a snapshot gets: its ID, or the last element of an ID that
// is a resource path (Azure's /subscriptions/.../snapshots/NAME, unique in its resource group).
func ImageName(snapshot string) string {
	if i := strings.LastIndexByte(snapshot, '/'); i >= 0 {
		return snapshot[i+1:]
	}
	return snapshot
}
