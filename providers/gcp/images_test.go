package gcp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// TestEmulatorHostRefused: with STORAGE_EMULATOR_HOST set, Google's storage client sends requests to
// that host without credentials, whatever it is given; writing or reading an image then is refused.
func TestEmulatorHostRefused(t *testing.T) {
	e := startSim(t, scenario(t))
	t.Setenv("STORAGE_EMULATOR_HOST", "203.0.113.9:4443")
	cfg := testConfig(e.url, e.keyFile)
	cfg.Worker.ImageBucket = "acme-evidence-images"
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "STORAGE_EMULATOR_HOST") {
		t.Fatalf("a driver with an image bucket: %v, want STORAGE_EMULATOR_HOST refused", err)
	}
	_, err := OpenImage(context.Background(), ImageAccess{CredentialsFile: e.keyFile, Endpoint: e.url}, "gs://acme-evidence-images/a.raw", 1<<30)
	var de *driver.Error
	if !errors.As(err, &de) || de.Code != driver.CodeInvalid || !strings.Contains(err.Error(), "STORAGE_EMULATOR_HOST") {
		t.Fatalf("reading an image: %v, want STORAGE_EMULATOR_HOST refused as invalid", err)
	}
}
