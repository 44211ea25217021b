# kinesis_kpl: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BUILD := build
SO := $(BUILD)/out_kinesis_kpl.so
CACHE ?= $(or $(KINESIS_KPL_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kinesis_kpl)
FUZZTIME ?= 15s
NODE_MODULES := test/node_modules/.package-lock.json
DIST := dist
DIST_ARCHS := amd64 arm64
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# How the plugin is built, in one place: `make build`, `make dist` and the
# Dockerfile (which runs `make dist`) all use it.
SO_FLAGS = -trimpath -buildmode=c-shared -ldflags='-s -w -X main.version=$(VERSION)'
# The C compiler for each GOARCH and its Debian packages: gcc for the host's
# own architecture, else Debian's cross compiler and C library.
HOST_ARCH := $(shell $(GO) env GOARCH 2>/dev/null)
TRIPLET_amd64 := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
cc_for = $(if $(filter $(1),$(HOST_ARCH)),gcc,$(TRIPLET_$(1))-gcc)
debs_for = $(if $(filter $(1),$(HOST_ARCH)),gcc libc6-dev,gcc-$(subst _,-,$(TRIPLET_$(1))) libc6-dev-$(1)-cross)

export KINESIS_KPL_CACHE := $(CACHE)

.PHONY: build kplcat dist distcheck test unit vet fuzz crosscheck e2e demo bench bench-e2e generate fluent-bit node clean

## build: the plugin as a c-shared object, build/out_kinesis_kpl.so
build: $(SO)

$(SO): go.mod go.sum $(shell find plugin conf producer aggregation -name '*.go' -not -name '*_test.go' 2>/dev/null)
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build $(SO_FLAGS) -o $(SO) ./plugin
	@rm -f $(BUILD)/out_kinesis_kpl.h

## dist: the plugin for linux/amd64 and linux/arm64, version-stamped, with dist/SHA256SUMS
dist:
	@need=""; for p in $(foreach arch,$(DIST_ARCHS),$(call debs_for,$(arch))); do \
	  dpkg -s $$p >/dev/null 2>&1 || need="$$need $$p"; done; \
	if [ -n "$$need" ]; then sudo=$$([ "$$(id -u)" -ne 0 ] && echo sudo); \
	  echo "installing Debian packages:$$need" >&2; \
	  $$sudo apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$need >/dev/null; fi
	rm -rf $(DIST) && mkdir -p $(DIST)
	$(foreach arch,$(DIST_ARCHS),CGO_ENABLED=1 GOOS=linux GOARCH=$(arch) CC=$(call cc_for,$(arch)) \
	  $(GO) build $(SO_FLAGS) -o $(DIST)/out_kinesis_kpl-linux-$(arch).so ./plugin && \
	  rm -f $(DIST)/out_kinesis_kpl-linux-$(arch).h &&) true
	echo "$(VERSION)" >$(DIST)/VERSION
	cd $(DIST) && sha256sum out_kinesis_kpl-linux-*.so VERSION >SHA256SUMS
	@cat $(DIST)/SHA256SUMS

## distcheck: make dist, then check what it built (architecture, exported symbols, checksums)
distcheck: dist
	KPL_DIST=$(CURDIR)/$(DIST) $(GO) test -count=1 -run '^TestDist' ./test/dist/

## kplcat: the stream reader, build/kplcat (see cmd/kplcat)
kplcat: $(BUILD)/kplcat

$(BUILD)/kplcat: go.mod go.sum $(shell find cmd/kplcat aggregation -name '*.go' -not -name '*_test.go' 2>/dev/null)
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $@ ./cmd/kplcat

## fluent-bit: prints the Fluent Bit binary to use (FLUENT_BIT, or 1.8.15 built once into the cache)
fluent-bit:
	@bash test/scripts/build-fluent-bit.sh "$(CACHE)"

## node: the emulator and the independent consumer, pinned by test/package-lock.json
node: $(NODE_MODULES)
$(NODE_MODULES): test/package.json test/package-lock.json
	cd test && npm ci --no-audit --no-fund --silent
	@touch $@

## demo: Fluent Bit + the plugin shipping container logs to a local Kinesis emulator, then what arrived
demo: build kplcat node
	@FLUENT_BIT="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" \
	  KPLCAT=$(BUILD)/kplcat bash test/scripts/demo.sh "$(SO)"

## test: vet, unit tests with the race detector, bounded fuzzing, the cross-check, end to end
test: vet unit fuzz crosscheck e2e distcheck

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

# Each fuzz target runs for FUZZTIME; the seed corpora also run in `unit`.
fuzz:
	GO=$(GO) bash test/scripts/fuzz.sh $(FUZZTIME)

## crosscheck: aggregates written by our encoder, read back by the AWS deaggregation library
crosscheck: node
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	  if [ -f aggregation/crosscheck/crosscheck.js ]; then \
	    AGG_CROSSCHECK_DIR=$$dir $(GO) test -count=1 -run '^TestWriteCrossCheckFixtures$$' ./aggregation/ && \
	    NODE_PATH=$(CURDIR)/test/node_modules node --no-warnings aggregation/crosscheck/crosscheck.js $$dir; \
	  else echo "crosscheck: aggregation/crosscheck/crosscheck.js missing"; exit 1; fi

## e2e: a real Fluent Bit with the plugin, kinesalite and the independent consumer; the examples
## loaded by Fluent Bit; kplcat against kinesalite
e2e: build node
	FLUENT_BIT="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" \
	  KPL_PLUGIN=$(CURDIR)/$(SO) KPL_E2E=1 \
	  $(GO) test -count=1 -timeout 20m -v ./test/e2e/ ./conf/examples/ ./cmd/kplcat/ 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}

## bench: every benchmark with allocations
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## bench-e2e: real Fluent Bit side by side (null, its C kinesis_streams, this plugin) over TLS to the fake;
## RECORDS (1000000), SIZE (100, 525 or 5120), ROWS (ids), ROUNDS (1: medians over rounds), FLUENT_BIT, BENCH_FLAGS (-perf DIR); the table goes to build/bench-e2e.md
RECORDS ?= 1000000
SIZE ?= 525
BENCH_FB_CPU ?= 0
BENCH_FAKE_CPU ?= 1
bench-e2e: build
	$(GO) build -o $(BUILD)/bench-e2e ./test/bench/cmd/bench-e2e
	FB="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" && \
	  taskset -c $(BENCH_FAKE_CPU) $(BUILD)/bench-e2e -fluent-bit "$$FB" -plugin $(SO) \
	    -records $(RECORDS) -size $(SIZE) -fb-cpu $(BENCH_FB_CPU) -cache "$(CACHE)/bench" \
	    -out $(BUILD)/bench-e2e.md $(if $(ROWS),-rows $(ROWS)) $(if $(ROUNDS),-rounds $(ROUNDS)) $(BENCH_FLAGS)

## generate: regenerate aggregation/pb from messages.proto
generate:
	@command -v protoc >/dev/null || { sudo=$$([ "$$(id -u)" -ne 0 ] && echo sudo); \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends protobuf-compiler; }
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	bash aggregation/generate.sh
	@git diff --stat -- aggregation/pb

clean:
	rm -rf $(BUILD)

.PHONY: soak
## soak: Fluent Bit through the plugin against the fake under every fault at once, SOAK_DURATION long (60s), then an exact count
SOAK_DURATION ?= 60s
soak: build
	@FLUENT_BIT="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" \
	  GO=$(GO) bash test/scripts/soak.sh "$(CURDIR)/$(SO)" "$(SOAK_DURATION)"
