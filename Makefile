# wsrep_sst_mariabackup (Go): see README.md.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/wsrep_sst_mariabackup
LDFLAGS := -s -w -X main.version=$(VERSION)
# Integration tests start real mariadbd + Galera nodes; they run serially.
TEST_TIMEOUT ?= 40m

.PHONY: all build deps test unit integration race fuzz lint demo bench bench-link bench-scale deb deb-test clean chroot-118 test-118 test-118-nodes test-118-all

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/wsrep_sst_mariabackup

deps:
	./scripts/install-deps.sh

# The README's test command: installs what is missing, then every test
# (unit, parity against the stock scripts, real Galera clusters) with -race.
# With the MariaDB 11.8 chroot built (cached) first, the same run also
# checks the option groups against 11.8's my_print_defaults and runs a
# 10.11 and an 11.8 node in one cluster; test-118-nodes then runs the
# 11.8-only part of test-118, and deb-test the package.
test: deps lint chroot-118 build
	SST_INTEGRATION=1 SST_CHROOT=$(CHROOT_118) $(GO) test -race -p 1 -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) test-118-nodes
	$(MAKE) deb-test

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
	@# The exit status, not the output: on an empty module cache the
	@# output holds "go: downloading ..." lines.
	@$(GO) mod tidy -diff >/dev/null 2>&1 || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

# The README's first command: a 2-node cluster on loopback, one SST through
# our binary, timings and checksums; nothing is left running.
demo: deps build
	$(GO) run ./internal/galeratest/sstlab demo --sst-program $(BIN)

# SST time of the stock script vs ours on the same dataset (SIZE: 500M, 2G, ...).
SIZE ?= 200M
bench: deps build
	./scripts/bench-sst.sh $(SIZE)

# Stock script vs ours over a loopback rate-limited to RATE in a network
# namespace: full SSTs, rejoin, resume (issue 11's targets); needs root.
RATE ?= 1gbit
LINK_SIZE ?= 2G
bench-link: deps build
	./scripts/bench-link.sh $(RATE) $(LINK_SIZE)

# bench-scale: a rejoin with the joiner's datadir on a volume of its own
# (XFS reflink; ext4 too small for old and new; ext4 with slow reads), the
# stock script and ours (issue 19); about 15 minutes for 2G.
SCALE_SIZE ?= 2G
bench-scale: deps build
	flock /tmp/sst-integration.lock ./scripts/bench-scale.sh $(SCALE_SIZE)

# The Debian package that replaces the stock script (dpkg-divert keeps it
# as /usr/bin/wsrep_sst_mariabackup.stock): bin/wsrep-sst-mariabackup-go_*.deb.
deb: build
	./scripts/deb.sh $(BIN) $(VERSION) bin

# Install, upgrade, remove and purge that package in a throwaway overlay
# root over the Debian 13 chroot (scripts/chroot-118.sh), with a real
# 2-node SST through the installed binary in between; needs root.
deb-test: deb chroot-118
	./scripts/deb-test.sh $$(./scripts/deb.sh $(BIN) $(VERSION) bin) $(VERSION)

# MariaDB 11.8 (Debian 13 chroot, cached; see scripts/chroot-118.sh).
CHROOT_118 ?= /var/cache/wsrep-sst-go/trixie
# 11.8's own mtr tests in test-118: a plain SST, the 11.x stdin
# credentials with a temporary SST user (no_auth), IST, and TLS.
MTR_118 ?= galera.galera_sst_mariabackup galera.galera_sst_mariabackup_no_auth \
	galera.galera_ist_mariabackup galera.galera_sst_mariabackup_verify_ca

chroot-118:
	./scripts/install-deps.sh --chroot
	SST_CHROOT=$(CHROOT_118) ./scripts/chroot-118.sh build

# Against 11.8: the option groups against 11.8's my_print_defaults; our
# real-cluster SST/IST tests and the stock-script parity ones with 11.8
# nodes; 10.11 (host) and 11.8 (chroot) nodes in one cluster; a few of
# 11.8's mtr SST tests with our binary.
test-118: deps chroot-118 build
	SST_CHROOT=$(CHROOT_118) $(GO) test -race -count=1 -run 'TestMysqldGroups' ./internal/config/
	SST_INTEGRATION=1 SST_CHROOT=$(CHROOT_118) $(GO) test -race -p 1 -count=1 -timeout $(TEST_TIMEOUT) \
	  -run 'TestMixedVersions' ./internal/galeratest/
	$(MAKE) test-118-nodes

# Every node on 11.8: our SST/IST test, the stock-script parity tests, and
# a few of 11.8's own mtr SST tests with our binary.
test-118-nodes: chroot-118 build
	SST_INTEGRATION=1 SST_SERVER_ROOT=$(CHROOT_118) $(GO) test -race -p 1 -count=1 -timeout $(TEST_TIMEOUT) \
	  -run 'TestE2ESSTThenIST$$|TestE2EMixed' ./internal/sst/
	./scripts/mtr.sh --root $(CHROOT_118) $(MTR_118)

# "make test" with every cluster node on 11.8 (TestMixedVersions keeps its
# 10.11 node on the host), then every 11.8 mtr test that does a mariabackup
# SST (33).
test-118-all: deps chroot-118 build
	SST_INTEGRATION=1 SST_SERVER_ROOT=$(CHROOT_118) SST_CHROOT=$(CHROOT_118) \
	  $(GO) test -race -p 1 -count=1 -timeout $(TEST_TIMEOUT) ./...
	./scripts/mtr.sh --root $(CHROOT_118)

clean:
	rm -rf bin
