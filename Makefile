# acquire: see README.md. `make demo` and `make test` are all a newcomer needs.
GO        ?= go
COMMIT    := $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/acquire-forensics/acquire/internal/version.Commit=$(COMMIT)


# Go tools installed by scripts/setup.sh (cosign) are found where go install puts them.
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin

.PHONY: all build images demo test lint bench fuzz clean setup-demo setup-test

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/acquire ./cmd/acquire
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/cloudsim ./cmd/cloudsim

# The cloud range's disk images (bit-identical ext4 file systems with planted artefacts; e2fsprogs).
images: testdata/scenarios/images/web-root.img

testdata/scenarios/images/web-root.img: scripts/make-images.sh
	scripts/make-images.sh testdata/scenarios/images

# What the demo and the tests need, installed when missing (apt-get, go install).
setup-demo:
	scripts/setup.sh demo

setup-test:
	scripts/setup.sh test

demo: setup-demo build images
	scripts/demo.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The race detector covers every package: the ledger, the verifier and the simulators are concurrent.
test: setup-test lint
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -tags nouring -count=1 ./custody
	$(GO) test -count=1 -run '^(TestDigestWritesImage|TestKilledAcquisitionWritingImages|TestGCPExportFromImageBucket)$$' ./providers/gcp ./internal/cli

# Figures as ratios against baselines measured in the same run; a missed goal fails the target.
bench: build images
	$(GO) test -run '^$$' -bench 'Digest' -benchtime 1x ./providers/aws/ebsblocks
	$(GO) test -run '^$$' -bench 'Verify|Append' ./custody
	$(GO) test -run '^$$' -bench 'DigestThroughSAS|Fleet' -benchtime 1x ./providers/azure
	$(GO) test -run '^$$' -bench 'Fleet' -benchtime 1x ./providers/gcp
	scripts/gcp-digest-bench.sh
	$(GO) run ./internal/bench

# Longer robustness runs: every byte of a case flipped, and the fuzz targets for a while each.
fuzz:
	ACQUIRE_EXHAUSTIVE=1 $(GO) test -count=1 -run TestEveryChangedByteIsFound ./custody
	$(GO) test -run XXX -fuzz FuzzParseRecord -fuzztime 60s ./custody
	$(GO) test -run XXX -fuzz FuzzRecordLayout -fuzztime 60s ./custody
	$(GO) test -run XXX -fuzz FuzzVerify -fuzztime 60s ./custody

clean:
	rm -rf bin out
