# Developer and CI entry points. Run "make help" for the list.

GO       ?= go
FUZZTIME ?= 20s
TRACES   ?= ../shared/traces/*.json.gz

# Fuzz targets, as package:target, each run for FUZZTIME by "make fuzz".
FUZZ_TARGETS := crdt:FuzzApplyUpdate crdt:FuzzApplyPopulated crdt:FuzzDecodeStateVector \
	crdt:FuzzReplicas crdt:FuzzUndo crdt:FuzzApplySequence crdt:FuzzApplyRich crdt:FuzzApplyDelta crdt:FuzzUpdateVersion crdt:FuzzBulkLoad protocol:FuzzDecode protocol:FuzzPatch sync:FuzzRoomFromPath sync:FuzzHostCheck sync:FuzzDecodeEdits sync:FuzzIdleSession sync/richexport:FuzzRender \
	store:FuzzOpen store:FuzzJournalEntry sync/webhook:FuzzDecodeDelivery sync/webhook:FuzzVerify sync/webhook:FuzzDecodeNotified \
	sync/authcallback:FuzzDecodeAnswer \
	store/jsstore/internal/wire:FuzzRoomToken store/jsstore/internal/wire:FuzzDecodeEntry store/jsstore/internal/wire:FuzzDecodeHead

.PHONY: help test test-go test-web test-e2e test-server web-deps web-build web-check test-short bench fuzz fuzz-long fmt vet build soak hunt

help:
	@echo "make test        vet, run the Go tests with the race detector, then the JS and browser tests"
	@echo "make test-go     vet and the Go tests only"
	@echo "make test-web    the JS tests only (installs web/node_modules with npm ci)"
	@echo "make test-e2e    the browser tests in web/e2e (Chromium at /usr/bin/chromium, else skipped)"
	@echo "make web-build   rebuild the committed bundles in web/dist"
	@echo "make web-check   fail if web/dist differs from a fresh build of web/src"
	@echo "make test-short  run the tests with -short (skips long simulations)"
	@echo "make bench       replay the editing traces in TRACES through the CRDT"
	@echo "make fuzz        run each fuzz target for FUZZTIME (default 20s)"
	@echo "make fuzz-long   the same for hours: FUZZTIME defaults to 1h per target"
	@echo "make soak        run the fault tests (failing store, full disk, kill -9) for SOAK (default 10m)"
	@echo "make hunt        the CRDT's property tests with many more checks and fresh seeds (about 15 minutes)"
	@echo "make fmt         gofmt every Go file"
	@echo "make vet         go vet"
	@echo "make build       build ./flowstate"

# The JS packages come first: the Go tests replay sessions that the JS
# client generates.
test: web-deps test-go test-web test-e2e

# vet with -race: vet compiles every dependency of what it checks, and
# with the race detector's settings those are the packages the tests
# compile next, which then reuse them; a plain vet compiled everything a
# third time. No file of ours depends on the race build tag.
#
# The test binaries run at least four at a time (go test's default is one
# per core): those of cmd/flowstate and sync spend much of their run
# waiting on servers, elections and timers, and on two cores four at a
# time took 202 s against 287 s.
GOTEST_P ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); echo $$(( n > 4 ? n : 4 )))

test-go:
	$(GO) vet -race ./... && $(GO) test -race -p $(GOTEST_P) ./...

test-web: web-deps test-server
	cd web && FLOWSTATE_BIN=$(TEST_SERVER) npm test

# The browser tests run the real server and drive Chromium. They skip
# with a message when Chromium is missing, unless
# FLOWSTATE_REQUIRE_BROWSER=1 (as in CI) makes that a failure.
test-e2e: web-deps test-server
	cd web && FLOWSTATE_BIN=$(TEST_SERVER) npm run test:e2e

# The JS and browser tests start the real server: built here once for all
# of their test processes, each of which would otherwise link its own. It
# is built as the Dockerfile builds it, with the settings of the binary
# the Go tests of cmd/flowstate build (releaseBuildFlags there): after
# them, this build only links.
TEST_SERVER := $(CURDIR)/web/node_modules/.cache/flowstate-test/flowstate

test-server: web-deps
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -o $(TEST_SERVER) ./cmd/flowstate

# The bundles in web/dist are committed (the binary embeds them): rebuild
# them after changing web/src, and check in CI that they are current. The
# check builds in memory, so it works on a tree with uncommitted changes.
web-build: web-deps
	cd web && node build.mjs

web-check: web-deps
	cd web && node build.mjs --check

# npm ci runs only when package-lock.json changed since the last install.
web-deps:
	@command -v node >/dev/null || { echo "make: Node.js is required (https://nodejs.org or apt-get install nodejs npm)"; exit 1; }
	@cd web && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; }

test-short:
	$(GO) test -short ./...

bench:
	$(GO) run ./cmd/flowstate bench trace $(TRACES)

# .ci/fuzz builds each package's instrumented test binary once and runs
# it per target (see the script for the one failure it tolerates).
fuzz:
	GO=$(GO) .ci/fuzz $(FUZZTIME) $(FUZZ_TARGETS)

# The long versions of the durability tests: the store fault cases in
# sync, and the crash, disk-full and cluster kill -9 cycles of the real
# binary in cmd/flowstate (the disk-full test needs root to mount a tmpfs), each
# package for about SOAK, both at once. They log their figures.
SOAK ?= 10m

soak:
	FLOWSTATE_SOAK=$(SOAK) $(GO) test -count=1 -v -timeout 0 \
		-run '^(TestStoreFaults|TestCrashKeepsAcknowledgedEdits|TestDiskFullKeepsAcknowledgedEdits|TestClusterKillCycles)$$' \
		./sync ./cmd/flowstate

# The CRDT's random tests with fresh seeds and many more checks than a
# default run, in small and shipped tree shapes: a hunt for rare bugs, not
# for CI. A failure prints the rapid seed or the math/rand seeds to rerun.
hunt:
	FLOWSTATE_HUNT_SEEDS=50 $(GO) test -count=1 -timeout 0 \
		-run '^(TestTreeRandomEdits|TestFindNear|TestBulkLoadMatchesTree|TestBulkLoadConflictAfterAuthor)$$' ./crdt
	FLOWSTATE_SESSION_STEPS=300 $(GO) test -count=1 -timeout 0 -run '^TestRandomSessions$$' ./crdt -rapid.checks=1500
	$(GO) test -count=1 -timeout 0 -run '^(TestRandomSessions|TestConvergence|TestConvergenceFanouts|TestRichConvergence|TestStaleRestart|TestRichEventsReplay|TestForgedOriginsConverge|TestForgedOriginsConvergeFanouts)$$' ./crdt -rapid.checks=5000

# fuzz-long is "make fuzz" with an hour per target unless FUZZTIME is given
# on the command line: for a machine left running, not for CI.
fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(if $(filter command line,$(origin FUZZTIME)),$(FUZZTIME),1h)

fmt:
	gofmt -w .

vet:
	$(GO) vet ./...

build:
	$(GO) build -o flowstate ./cmd/flowstate
