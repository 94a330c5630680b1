package requestbody

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"sync"
	"testing"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const answerSize = 8 << 20

// heldConn lets its second write, the request's body, reach the server, then holds the writer
// until release is closed: the moment a loaded machine can leave the transport's writer in.
type heldConn struct {
	net.Conn
	writes  *int
	release <-chan struct{}
}

func (c heldConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if *c.writes++; *c.writes == 2 {
		<-c.release
	}
	return n, err
}

// exchange sends one POST with a body through the SDK's HTTP handler, with guarded deciding
// whether Guard is on the stack. The transport's writer is held after the body until the SDK has
// the answer's headers (and has closed the request body). It returns the writer's result, as
// httptrace reports it, and how much of the answer could be read.
func exchange(t *testing.T, guarded bool) (writeErr error, read int64, readErr error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("server reading the request: %v", err)
		}
		w.Header().Set("Content-Length", "8388608")
		_, _ = w.Write(make([]byte, answerSize))
	}))
	defer srv.Close()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	writes := 0
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return heldConn{Conn: c, writes: &writes, release: release}, nil
	}}
	defer transport.CloseIdleConnections()

	wrote := make(chan error, 1)
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote <- info.Err },
	})

	stack := middleware.NewStack("exchange", smithyhttp.NewStackRequest)
	if err := stack.Serialize.Add(middleware.SerializeMiddlewareFunc("body", func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
		req := in.Request.(*smithyhttp.Request)
		req.Method, req.URL = http.MethodPost, target
		withBody, err := req.SetStream(bytes.NewReader([]byte("Action=DescribeVolumes&Version=2016-11-15")))
		if err != nil {
			return middleware.SerializeOutput{}, middleware.Metadata{}, err
		}
		in.Request = withBody
		return next.HandleSerialize(ctx, in)
	}), middleware.After); err != nil {
		t.Fatal(err)
	}
	if guarded {
		if err := Guard(stack); err != nil {
			t.Fatal(err)
		}
	}
	if err := stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("read", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, meta, err := next.HandleDeserialize(ctx, in)
		if err != nil {
			return out, meta, err
		}
		releaseOnce.Do(func() { close(release) })
		writeErr = <-wrote
		body := out.RawResponse.(*smithyhttp.Response).Body
		defer body.Close()
		read, readErr = io.Copy(io.Discard, body)
		return out, meta, nil
	}), middleware.After); err != nil {
		t.Fatal(err)
	}

	handler := middleware.DecorateHandler(smithyhttp.NewClientHandler(&http.Client{Transport: transport}), stack)
	if _, _, err := handler.Handle(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return writeErr, read, readErr
}

// TestGuardKeepsTheConnection: with Guard, the held writer finishes without error and the whole
// answer is read.
func TestGuardKeepsTheConnection(t *testing.T) {
	writeErr, read, readErr := exchange(t, true)
	if writeErr != nil || readErr != nil || read != answerSize {
		t.Fatalf("guarded: the writer ended with %v; read %d of %d bytes of the answer, then %v", writeErr, read, answerSize, readErr)
	}
}

// TestSDKStillNeedsTheGuard shows the race Guard exists for, so that the test above is not
// vacuous: without Guard the held writer fails on the closed body. If this test fails, the SDK no
// longer has the race, and Guard can go.
func TestSDKStillNeedsTheGuard(t *testing.T) {
	writeErr, read, readErr := exchange(t, false)
	t.Logf("unguarded: writer %v; read %d bytes, then %v", writeErr, read, readErr)
	if writeErr == nil {
		t.Fatal("without Guard the writer finished cleanly: the SDK's request body no longer answers io.EOF from WriteTo once closed")
	}
}
