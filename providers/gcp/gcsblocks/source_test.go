package gcsblocks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/acquire-forensics/acquire/providers/driver"
)

const bucket = "acme-evidence"

// image is 7.25 blocks: written blocks, a block of zeros, and a short last block.
func image() []byte {
	img := make([]byte, 7*BlockSize+BlockSize/4)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	clear(img[3*BlockSize : 4*BlockSize])
	return img
}

func crc32c(b []byte) string {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return base64.StdEncoding.EncodeToString(out[:])
}

// serve puts content in the bucket as object, with the CRC32C given ("" for the content's own).
func serve(t *testing.T, object string, content []byte, crc string) *fakestorage.Server {
	t.Helper()
	if crc == "" {
		crc = crc32c(content)
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true,
		InitialObjects: []fakestorage.Object{{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: object, Crc32c: crc}, Content: content}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func open(t *testing.T, srv *fakestorage.Server, object string, size int64) (*Source, error) {
	t.Helper()
	return Open(t.Context(), srv.Client(), "gs://"+bucket+"/"+object, size, &Options{Concurrency: 3, RangeBlocks: 2, Reader: "responder@acme-forensics.iam.gserviceaccount.com"}, nil)
}

// read collects what ReadBlocks delivers, checking each block's sum against its data.
func read(t *testing.T, s *Source, from int64) (map[int64][]byte, []int64, error) {
	t.Helper()
	got := map[int64][]byte{}
	var order []int64
	err := s.ReadBlocks(t.Context(), from, func(b driver.Block) error {
		if b.Sum == nil || *b.Sum != sha256.Sum256(b.Data) {
			t.Errorf("block %d delivered with a sum that is not its data's", b.Index)
		}
		got[b.Index] = bytes.Clone(b.Data)
		order = append(order, b.Index)
		return nil
	})
	return got, order, err
}

func TestReadsEveryBlockInOrder(t *testing.T) {
	img := image()
	srv := serve(t, "acquire/ir-1/ev-1.raw", img, "")
	s, err := open(t, srv, "acquire/ir-1/ev-1.raw", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Geometry(); g.Size != int64(len(img)) || g.BlockSize != BlockSize {
		t.Fatalf("geometry %+v", g)
	}
	got, order, err := read(t, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Every block, the zero block included: the worker listed every block of the device.
	if len(order) != 8 {
		t.Fatalf("%d blocks delivered, want 8: %v", len(order), order)
	}
	for i, idx := range order {
		if idx != int64(i) {
			t.Fatalf("blocks delivered out of order: %v", order)
		}
		want := img[i*BlockSize : min((i+1)*BlockSize, len(img))]
		if !bytes.Equal(got[idx], want) {
			t.Errorf("block %d is not the object's bytes", idx)
		}
	}
	info := s.Info()
	if !strings.Contains(info.Access, "gs://"+bucket+"/acquire/ir-1/ev-1.raw, generation ") || !strings.Contains(info.Access, "responder@") ||
		!strings.Contains(info.Method, "CRC32C") {
		t.Errorf("info does not say what was read, as whom, and how it was checked: %+v", info)
	}
}

func TestResumesFromABlock(t *testing.T) {
	img := image()
	srv := serve(t, "o.raw", img, "")
	s, err := open(t, srv, "o.raw", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	_, order, err := read(t, s, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || order[0] != 5 || order[2] != 7 {
		t.Fatalf("from block 5, delivered %v", order)
	}
	if _, _, err := read(t, s, 9); err == nil {
		t.Error("reading from past the end was accepted")
	}
}

// TestWrongChecksumFails: content whose CRC32C is not the one Cloud Storage holds is an integrity failure.
func TestWrongChecksumFails(t *testing.T) {
	img := image()
	srv := serve(t, "o.raw", img, crc32c([]byte("something else")))
	s, err := open(t, srv, "o.raw", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = read(t, s, 0)
	var ie *IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "CRC32C") {
		t.Fatalf("read of content that does not match its CRC32C: %v", err)
	}
}

func TestWrongSizeRefused(t *testing.T) {
	img := image()
	srv := serve(t, "o.raw", img, "")
	_, err := open(t, srv, "o.raw", int64(len(img))+BlockSize)
	var ie *IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "not the image") {
		t.Fatalf("an object of another size than the evidence: %v", err)
	}
}

func TestMissingObject(t *testing.T) {
	srv := serve(t, "o.raw", image(), "")
	if _, err := open(t, srv, "other.raw", 10); err == nil || !strings.Contains(err.Error(), "gs://"+bucket+"/other.raw") {
		t.Fatalf("a missing object: %v", err)
	}
	for _, u := range []string{"", "gs://", "gs://bucket", "gs://bucket/", "https://storage.googleapis.com/b/o", "/tmp/x.raw"} {
		if _, _, err := ParseURL(u); err == nil {
			t.Errorf("%q taken for an object URL", u)
		}
	}
}

// TestReplacedObjectNotMixed: an object replaced after it was opened is not read as the one opened.
func TestReplacedObjectNotMixed(t *testing.T) {
	img := image()
	srv := serve(t, "o.raw", img, "")
	s, err := open(t, srv, "o.raw", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{0xee}, len(img))
	srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: "o.raw", Crc32c: crc32c(other)}, Content: other})
	got, _, err := read(t, s, 0)
	if err == nil {
		for i, b := range got {
			if bytes.Contains(b, []byte{0xee, 0xee, 0xee, 0xee}) {
				t.Fatalf("block %d was read from the replacing object", i)
			}
		}
	}
}

func TestVisitErrorStops(t *testing.T) {
	img := image()
	srv := serve(t, "o.raw", img, "")
	s, err := open(t, srv, "o.raw", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("disk full")
	n := 0
	err = s.ReadBlocks(t.Context(), 0, func(b driver.Block) error {
		n++
		if b.Index == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("visit failed at block 2: ReadBlocks returned %v after %d blocks", err, n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.ReadBlocks(ctx, 0, func(driver.Block) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled read returned %v", err)
	}
}
