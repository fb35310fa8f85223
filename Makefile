# contentdl — build, test, lint. `make check` is what to run before a commit.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/docstokg/contentdl/internal/cli.version=$(VERSION)
# The pinned golangci-lint, where `go install` puts it (GOBIN, else the first GOPATH's
# bin): another version on PATH is not used, so every machine lints with the same rules.
GOLANGCI_VERSION := v2.15.0
GOBIN_DIR := $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
GOLANGCI  ?= $(GOBIN_DIR)/golangci-lint

.PHONY: all build test race lint lint-install check fuzz bench bench-manyhosts bench-fleet demo man clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/contentdl ./cmd/contentdl
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/contentdl-sim ./cmd/contentdl-sim

# The test command README.md gives and .ci/run calls.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# Installs the pinned version from the Go module proxy when it is missing or another
# version is in its place (a fresh machine needs nothing but Go).
lint-install:
	@test "$$("$(GOLANGCI)" version --short 2>/dev/null)" = "$(GOLANGCI_VERSION:v%=%)" || \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

# depguard and forbidigo enforce the layering (.golangci.yml, CONTRIBUTING.md).
lint: lint-install
	$(GOLANGCI) run ./...

check: lint test

# Short fuzzing of every parser (about 10 s each); crashers land in testdata/fuzz.
FUZZTIME ?= 10s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# The benchmark suite (bench/suite): learning, throughput against curl, the gates'
# overhead, the microbenchmarks, many hosts and the fleet, offline against the
# simulator. Writes bench/RESULTS.md, bench/learning.png, bench/manyhosts.png and
# bench/fleet.png; about 9 minutes on 2 cores. The fleet part needs a local
# redis-server (`apt-get install redis-server`, as root); without one it is skipped
# with a note and the rest runs.
bench: build
	$(GO) run ./bench/cmd/benchsuite --contentdl $(BIN)/contentdl --go $(GO) \
		--results bench/RESULTS.md --chart bench/learning.png --manyhosts-chart bench/manyhosts.png \
		--fleet-chart bench/fleet.png

# The many-hosts part alone (about 3 minutes): replaces its section of
# bench/RESULTS.md and bench/manyhosts.png, and leaves the rest as it was.
bench-manyhosts: build
	$(GO) run ./bench/cmd/benchsuite --contentdl $(BIN)/contentdl --go $(GO) --only manyhosts \
		--results bench/RESULTS.md --manyhosts-chart bench/manyhosts.png

# The fleet part alone (about 3 minutes; needs redis-server on PATH, and fails
# without it, leaving the results as they were): 4 contentdl processes sharing a
# local redis-server. Replaces its section of bench/RESULTS.md and bench/fleet.png.
bench-fleet: build
	$(GO) run ./bench/cmd/benchsuite --contentdl $(BIN)/contentdl --go $(GO) --only fleet \
		--results bench/RESULTS.md --fleet-chart bench/fleet.png

# contentdl against the simulator in one offline command (bench/demo.sh).
demo: build
	BIN=$(BIN) ./bench/demo.sh

# Man pages for every command (cobra/doc) into man/; the date is the last commit's, so
# the pages only change when the commands do. Generated, not committed.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
man:
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run -ldflags '$(LDFLAGS)' ./scripts/genman man

clean:
	rm -rf $(BIN) man
