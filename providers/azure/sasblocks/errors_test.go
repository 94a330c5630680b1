package sasblocks

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// A failed blob call's error never carries the SAS: a transport error names its URL, query and all,
// and scrub keeps its cause only, still recognisable as a transport failure or a cancel.
func TestScrubDropsTheSAS(t *testing.T) {
	sas := "https://md-abc.blob.core.windows.net/x/abcd?sv=2018-03-28&sr=b&si=1&sig=SECRETSIGNATURE%3D"
	for _, tc := range []struct {
		name      string
		err       error
		transport bool
		cancelled bool
	}{
		{"transport", &url.Error{Op: "Get", URL: sas, Err: io.ErrUnexpectedEOF}, true, false},
		{"cancelled", &url.Error{Op: "Get", URL: sas, Err: context.Canceled}, false, true},
		{"other", errors.New("Get \"" + sas + "\": something odd"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scrub("Get Blob", "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/snapshots/n", tc.err)
			if msg := err.Error(); strings.Contains(msg, "SECRETSIGNATURE") || strings.Contains(msg, "sig=") {
				t.Fatalf("the error carries the SAS: %s", msg)
			}
			if got := driver.IsTransport(err); got != tc.transport {
				t.Errorf("IsTransport %v, want %v: %v", got, tc.transport, err)
			}
			if got := errors.Is(err, context.Canceled); got != tc.cancelled {
				t.Errorf("cancelled %v, want %v", got, tc.cancelled)
			}
		})
	}
}
