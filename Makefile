# wsrep_sst_mariabackup (Go): see README.md.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/wsrep_sst_mariabackup
LDFLAGS := -s -w -X main.version=$(VERSION)
# Integration tests start real mariadbd + Galera nodes; they run serially.
TEST_TIMEOUT ?= 40m

.PHONY: all build deps test unit integration race fuzz lint demo bench deb deb-test clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/wsrep_sst_mariabackup

deps:
	./scripts/install-deps.sh

# The README's test command: installs what is missing, then every test
# (unit, parity against the stock scripts, real Galera clusters) with -race.
test: deps lint
	SST_INTEGRATION=1 $(GO) test -race -p 1 -count=1 -timeout $(TEST_TIMEOUT) ./...

# Unit tests only (no cluster): fast.
unit:
	$(GO) test -race -count=1 ./...

integration: deps
	SST_INTEGRATION=1 $(GO) test -race -p 1 -count=1 -timeout $(TEST_TIMEOUT) -run 'Integration|E2E' -v ./...

race: unit

# A short run of every fuzz target.
# Minimizing each new input takes up to 60s by default, the whole budget.
FUZZTIME ?= 20s
FUZZMINIMIZETIME ?= 2s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; \
	  done; \
	done

# golangci-lint, pinned, built from the Go module proxy into .tools/ (no
# download site); configuration and the reason for each linter: .golangci.yml.
GOLANGCI_VERSION ?= v2.15.0
GOLANGCI := .tools/golangci-lint-$(GOLANGCI_VERSION)

$(GOLANGCI):
	mkdir -p .tools
	GOBIN=$(CURDIR)/.tools/gobin-$(GOLANGCI_VERSION) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv .tools/gobin-$(GOLANGCI_VERSION)/golangci-lint $@
	rmdir .tools/gobin-$(GOLANGCI_VERSION)

lint: $(GOLANGCI)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(GOLANGCI) run ./...
	@test -z "$$($(GO) mod tidy -diff 2>&1)" || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

# The README's first command: a 2-node cluster on loopback, one SST through
# our binary, timings and checksums; nothing is left running.
demo: deps build
	$(GO) run ./internal/galeratest/sstlab demo --sst-program $(BIN)

# SST time of the stock script vs ours on the same dataset (SIZE: 500M, 2G, ...).
SIZE ?= 200M
bench: deps build
	./scripts/bench-sst.sh $(SIZE)

# The Debian package that replaces the stock script (dpkg-divert keeps it
# as /usr/bin/wsrep_sst_mariabackup.stock): bin/wsrep-sst-mariabackup-go_*.deb.
deb: build
	./scripts/deb.sh $(BIN) $(VERSION) bin

# Install, upgrade, remove and purge that package in a throwaway overlay
# root over the Debian 13 chroot (scripts/chroot-118.sh); needs root.
deb-test: deb
	./scripts/deb-test.sh $$(./scripts/deb.sh $(BIN) $(VERSION) bin) $(VERSION)

clean:
	rm -rf bin
