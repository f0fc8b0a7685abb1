# make test: what CI runs (.ci/run). make build: bin/bsc with its version.
# make bench: every benchmark, no tests.

GO      ?= go
PKG     := github.com/bsc-sim/bsc
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)

.PHONY: test build bench

test:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists files to format:"; echo "$$unformatted"; exit 1; fi
	$(GO) build ./...   # also warms the cache the binary-level tests build from
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/bsc ./cmd/bsc

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
