package sasblocks

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// fakeBlob serves one page blob as the blob service's Get Blob Properties, Get Page Ranges and ranged
// Get Blob answer (https://learn.microsoft.com/rest/api/storageservices/get-blob), with the anomalies
// a test asks for: reads without Content-MD5, page ranges as given, reads that stall.
type fakeBlob struct {
	data   []byte
	ranges string // the PageList's PageRange elements
	// noMD5 and stall say, by the number of the ranged read (1 on), whether it comes without its
	// Content-MD5 or stalls until the request ends.
	noMD5, stall func(read int) bool

	mu    sync.Mutex
	reads int
}

func (f *fakeBlob) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("x-ms-blob-type", "PageBlob")
	h.Set("x-ms-version", "2023-11-03")
	switch {
	case r.Method == http.MethodHead:
		h.Set("Content-Length", fmt.Sprint(len(f.data)))
		w.WriteHeader(http.StatusOK)
	case r.URL.Query().Get("comp") == "pagelist":
		h.Set("Content-Type", "application/xml")
		h.Set("x-ms-blob-content-length", fmt.Sprint(len(f.data)))
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><PageList>%s</PageList>`, f.ranges)
	default:
		f.mu.Lock()
		f.reads++
		n := f.reads
		f.mu.Unlock()
		var from, to int
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &from, &to); err != nil {
			http.Error(w, "no range", http.StatusBadRequest)
			return
		}
		to = min(to, len(f.data)-1)
		body := f.data[from : to+1]
		if f.stall != nil && f.stall(n) {
			<-r.Context().Done()
			return
		}
		if f.noMD5 == nil || !f.noMD5(n) {
			sum := md5.Sum(body)
			h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(f.data)))
		h.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body)
	}
}

// openFake serves f and opens it as a Source, its SAS query a secret no error may carry.
func openFake(t *testing.T, f *fakeBlob) *Source {
	return openFakeWithin(t, f, 0)
}

// openFakeWithin opens f with the given read timeout.
func openFakeWithin(t *testing.T, f *fakeBlob, readTimeout time.Duration) *Source {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	src, err := Open(context.Background(), Access{URL: srv.URL + "/c/blob?sv=2018-03-28&sig=SECRETSIGNATURE", Resource: "snap-1"}, &Options{
		ReadTimeout:   readTimeout,
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// twoBlocks is a blob of two written 512 KiB blocks.
func twoBlocks() []byte {
	data := make([]byte, 2*BlockSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return data
}

const twoBlockRanges = `<PageRange><Start>0</Start><End>1048575</End></PageRange>`

func readAll(src *Source) (int, error) {
	n := 0
	err := src.ReadBlocks(context.Background(), 0, func(driver.Block) error { n++; return nil })
	return n, err
}

// TestMissingContentMD5: a ranged read without the Content-MD5 the blob service always sends is read
// again, counted, and after integrityReads reads fails closed: no block passes unchecked.
func TestMissingContentMD5(t *testing.T) {
	t.Run("always missing", func(t *testing.T) {
		src := openFake(t, &fakeBlob{data: twoBlocks(), ranges: twoBlockRanges, noMD5: func(int) bool { return true }})
		_, err := readAll(src)
		var ie *IntegrityError
		if !errors.As(err, &ie) || !ie.NoChecksum || ie.Reads != integrityReads || !strings.Contains(err.Error(), "without the Content-MD5") {
			t.Fatalf("error %v: want an integrity error for a block without Content-MD5 after %d reads", err, integrityReads)
		}
		if src.Info().IntegrityRetries < integrityReads {
			t.Errorf("%d integrity retries recorded, want at least %d", src.Info().IntegrityRetries, integrityReads)
		}
	})
	t.Run("missing once", func(t *testing.T) {
		src := openFake(t, &fakeBlob{data: twoBlocks(), ranges: twoBlockRanges, noMD5: func(n int) bool { return n == 1 }})
		n, err := readAll(src)
		if err != nil || n != 2 {
			t.Fatalf("%d blocks, error %v: want both, the one without Content-MD5 read again", n, err)
		}
		if info := src.Info(); info.IntegrityRetries != 1 || len(info.RetriedBlocks) != 1 {
			t.Errorf("retries %d %v, want one block read again", info.IntegrityRetries, info.RetriedBlocks)
		}
	})
}

// TestBadPageRange: a page range without a start or an end, or ending before it starts, fails the
// read naming the range, instead of its blocks counting as unwritten zeros.
func TestBadPageRange(t *testing.T) {
	for _, tc := range []struct{ name, ranges, text string }{
		{"no start", `<PageRange><End>524287</End></PageRange>`, "from (none) to 524287"},
		{"no end", `<PageRange><Start>0</Start></PageRange>`, "from 0 to (none)"},
		{"reversed", `<PageRange><Start>524288</Start><End>1023</End></PageRange>`, "from 524288 to 1023"},
		{"reversed after a good one", twoBlockRanges + `<PageRange><Start>1048576</Start><End>0</End></PageRange>`, "from 1048576 to 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := openFake(t, &fakeBlob{data: twoBlocks(), ranges: tc.ranges})
			n, err := readAll(src)
			if err == nil || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "snap-1") {
				t.Fatalf("%d blocks, error %v: want the range %s named", n, err, tc.text)
			}
		})
	}
}

// TestStalledReadBounded: a ranged read that stalls is abandoned after ReadTimeout and read again;
// one that stalls every time fails as a transport failure (retryable), without the SAS, instead of
// hanging the digest with the SAS open.
func TestStalledReadBounded(t *testing.T) {
	const timeout = 200 * time.Millisecond
	t.Run("stalls once", func(t *testing.T) {
		src := openFakeWithin(t, &fakeBlob{data: twoBlocks(), ranges: twoBlockRanges, stall: func(n int) bool { return n == 1 }}, timeout)
		start := time.Now()
		n, err := readAll(src)
		if err != nil || n != 2 {
			t.Fatalf("%d blocks, error %v: want both, the stalled one read again", n, err)
		}
		if d := time.Since(start); d > 10*timeout {
			t.Errorf("took %s with a read timeout of %s", d, timeout)
		}
	})
	t.Run("stalls always", func(t *testing.T) {
		src := openFakeWithin(t, &fakeBlob{data: twoBlocks(), ranges: twoBlockRanges, stall: func(int) bool { return true }}, timeout)
		done := make(chan error, 1)
		go func() { _, err := readAll(src); done <- err }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the digest hangs on a stalled read")
		}
		var se *StalledError
		if !errors.As(err, &se) || se.Reads != stallReads || !driver.IsTransport(err) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v: want a stalled read after %d reads, a transport failure and no deadline of the run", err, stallReads)
		}
		if strings.Contains(err.Error(), "SECRETSIGNATURE") {
			t.Fatalf("the error carries the SAS: %v", err)
		}
	})
}

// countingTransport counts the requests under way, from their start until their answer's body is
// closed or they fail: a reader at work.
type countingTransport struct{ open atomic.Int64 }

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	c.open.Add(1)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		c.open.Add(-1)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, c: c}
	return resp, nil
}

type countedBody struct {
	io.ReadCloser
	c    *countingTransport
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.c.open.Add(-1) })
	return b.ReadCloser.Close()
}

// TestNoReaderOutlivesTheCall: when the visitor stops the read at the first block, with other ranged
// reads in flight, ReadBlocks returns only once every one of them has ended, so that the caller may
// end the read access at once.
func TestNoReaderOutlivesTheCall(t *testing.T) {
	data := make([]byte, 32*BlockSize)
	f := &fakeBlob{data: data, ranges: fmt.Sprintf(`<PageRange><Start>0</Start><End>%d</End></PageRange>`, len(data)-1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rng := r.Header.Get("x-ms-range") + r.Header.Get("Range"); rng != "" && !strings.HasPrefix(rng, "bytes=0-") {
			<-r.Context().Done() // every block but the first waits until its read is cancelled
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr := &countingTransport{}
	src, err := Open(context.Background(), Access{URL: srv.URL + "/c/blob?sv=2018-03-28&sig=SECRETSIGNATURE", Resource: "snap-1"}, &Options{
		Concurrency: 8, ClientOptions: azcore.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	err = src.ReadBlocks(context.Background(), 0, func(b driver.Block) error {
		time.Sleep(50 * time.Millisecond) // the other readers are under way
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("ReadBlocks: %v, want the visitor's error", err)
	}
	if n := tr.open.Load(); n != 0 {
		t.Fatalf("%d ranged reads still open after ReadBlocks returned", n)
	}
}
