# Developer and CI entry points. Run "make help" for the list.

GO       ?= go
FUZZTIME ?= 20s
TRACES   ?= ../shared/traces/*.json.gz

# Fuzz targets of the crdt package, each run for FUZZTIME by "make fuzz".
CRDT_FUZZ_TARGETS := FuzzApplyUpdate FuzzApplyPopulated FuzzDecodeStateVector FuzzReplicas

.PHONY: help test test-short bench fuzz fmt vet build

help:
	@echo "make test        vet, then run all tests with the race detector"
	@echo "make test-short  run the tests with -short (skips long simulations)"
	@echo "make bench       replay the editing traces in TRACES through the CRDT"
	@echo "make fuzz        run each crdt fuzz target for FUZZTIME (default 20s)"
	@echo "make fmt         gofmt every Go file"
	@echo "make vet         go vet"
	@echo "make build       build ./flowstate"

test:
	$(GO) vet ./... && $(GO) test -race ./...

test-short:
	$(GO) test -short ./...

bench:
	$(GO) run ./cmd/flowstate bench trace $(TRACES)

fuzz:
	@set -e; for target in $(CRDT_FUZZ_TARGETS); do \
		echo "$(GO) test -run '^\$$' -fuzz '^$$target\$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./crdt"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./crdt; \
	done

fmt:
	gofmt -w .

vet:
	$(GO) vet ./...

build:
	$(GO) build -o flowstate ./cmd/flowstate
