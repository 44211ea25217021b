# kinesis_kpl: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BUILD := build
SO := $(BUILD)/out_kinesis_kpl.so
CACHE ?= $(or $(KINESIS_KPL_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kinesis_kpl)
FUZZTIME ?= 15s
NODE_MODULES := test/node_modules/.package-lock.json

export KINESIS_KPL_CACHE := $(CACHE)

.PHONY: build test unit vet fuzz crosscheck e2e demo bench bench-e2e generate fluent-bit node clean

## build: the plugin as a c-shared object, build/out_kinesis_kpl.so
build: $(SO)

$(SO): go.mod go.sum $(shell find plugin conf producer aggregation -name '*.go' -not -name '*_test.go' 2>/dev/null)
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build -trimpath -buildmode=c-shared -ldflags='-s -w' -o $(SO) ./plugin
	@rm -f $(BUILD)/out_kinesis_kpl.h

## fluent-bit: prints the Fluent Bit binary to use (FLUENT_BIT, or 1.8.15 built once into the cache)
fluent-bit:
	@bash test/scripts/build-fluent-bit.sh "$(CACHE)"

## node: the emulator and the independent consumer, pinned by test/package-lock.json
node: $(NODE_MODULES)
$(NODE_MODULES): test/package.json test/package-lock.json
	cd test && npm ci --no-audit --no-fund --silent
	@touch $@

## demo: Fluent Bit + the plugin shipping container logs to a local Kinesis emulator, then what arrived
demo: build node
	@FLUENT_BIT="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" \
	  bash test/scripts/demo.sh "$(SO)"

## test: vet, unit tests with the race detector, bounded fuzzing, the cross-check, end to end
test: vet unit fuzz crosscheck e2e

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

## e2e: a real Fluent Bit with the plugin, kinesalite and the independent consumer
e2e: build node
	FLUENT_BIT="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" \
	  KPL_PLUGIN=$(CURDIR)/$(SO) KPL_E2E=1 \
	  $(GO) test -count=1 -timeout 20m -v ./test/e2e/ 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}

## bench: every benchmark with allocations
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## bench-e2e: real Fluent Bit side by side (null, its C kinesis_streams, this plugin) over TLS to the fake;
## RECORDS (1000000), SIZE (100, 525 or 5120), ROWS (ids), FLUENT_BIT, BENCH_FLAGS (-perf DIR); the table goes to build/bench-e2e.md
RECORDS ?= 1000000
SIZE ?= 525
BENCH_FB_CPU ?= 0
BENCH_FAKE_CPU ?= 1
bench-e2e: build
	$(GO) build -o $(BUILD)/bench-e2e ./test/bench/cmd/bench-e2e
	FB="$${FLUENT_BIT:-$$(bash test/scripts/build-fluent-bit.sh "$(CACHE)")}" && \
	  taskset -c $(BENCH_FAKE_CPU) $(BUILD)/bench-e2e -fluent-bit "$$FB" -plugin $(SO) \
	    -records $(RECORDS) -size $(SIZE) -fb-cpu $(BENCH_FB_CPU) -cache "$(CACHE)/bench" \
	    -out $(BUILD)/bench-e2e.md $(if $(ROWS),-rows $(ROWS)) $(BENCH_FLAGS)

## generate: regenerate aggregation/pb from messages.proto
generate:
	@command -v protoc >/dev/null || { sudo=$$([ "$$(id -u)" -ne 0 ] && echo sudo); \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends protobuf-compiler; }
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	bash aggregation/generate.sh
	@git diff --stat -- aggregation/pb

clean:
	rm -rf $(BUILD)
