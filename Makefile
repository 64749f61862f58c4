# probe-agent build, test and packaging entry points. Tool versions are pinned
# here; docs/TOOLCHAIN.md says why.
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Build tags and per-package compiler flags of the released binaries: a
# smaller binary is less resident memory on the switch (packaging/release-flags).
RELEASE_FLAGS := $(shell grep -v '^\#' packaging/release-flags)
BENCHTIME   ?= 1s

.PHONY: all build test unit lint bench run proto package docs fuzz footprint clean lab-image bench-fabric test-nats bench-nats test-kafka bench-kafka

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath $(RELEASE_FLAGS) -ldflags '$(LDFLAGS)' -o bin/ ./cmd/probe-agent ./cmd/probectl ./cmd/probe-controller

# The whole suite, as CI runs it: formatting, vet, staticcheck, generated
# docs up to date, then every test (root-only tests skip when not root).
test: lint
	$(GO) test -count=1 -timeout 20m ./...

unit:
	$(GO) test -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# The central-load benchmark (docs/PERFORMANCE.md): pushdown against raw
# streaming on 32, 256 and 1,024 devices x 48 server ports; writes the table
# (docs/central-load.md) and the plot (docs/central-load.png).
bench-fabric:
	$(GO) run ./cmd/probectl bench --devices 32,256,1024 --ports 48 --png docs/central-load.png > docs/central-load.md
	@cat docs/central-load.md

# The whole agent as users see it (docs/PERFORMANCE.md "Whole agent"): as
# root, N veth interfaces with traffic (and idle ifb), probe-agent built with
# the release flags and node_exporter (when installed) side by side, each in
# its own cgroup; CPU per tick, RSS and bytes per interval, and ratios.
# BENCH_AGENT_FLAGS e.g. "-ifaces 1000 -window 10s" (go run ./bench/agent -h).
BENCH_AGENT_FLAGS ?=
.PHONY: bench-agent
bench-agent:
	$(GO) run ./bench/agent $(BENCH_AGENT_FLAGS)

# Fan-in through NATS JetStream: the bus core and the tests against the
# embedded nats-server (its own package: a large build, about 4 minutes cold
# on 2 cores); bench-nats measures records/s, MB/s and merge latency
# (docs/PERFORMANCE.md).
test-nats:
	$(GO) test -count=1 ./bus/ ./bus/natsbus/

bench-nats:
	$(GO) test -count=1 -run '^$$' -bench JetStreamFanIn -benchtime 200x ./bus/natsbus/

# Fan-in through Kafka against franz-go's in-process kfake cluster (no
# real broker; docs/controller.md says what that leaves untested).
test-kafka:
	$(GO) test -count=1 ./bus/kafkabus/

bench-kafka:
	$(GO) test -count=1 -run '^$$' -bench 'KafkaFanIn|KafkaFailover' -benchmem ./bus/kafkabus/

# Short fuzzing passes over every parser; the seed corpora also run in `make test`.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseDocument -fuzztime 30s ./probe/
	$(GO) test -run '^$$' -fuzz FuzzDecodeStageUpdate -fuzztime 30s ./probe/
	$(GO) test -run '^$$' -fuzz FuzzParseLine -fuzztime 30s ./collectors/replay/
	$(GO) test -run '^$$' -fuzz FuzzParseConfig -fuzztime 30s ./agent/
	$(GO) test -run '^$$' -fuzz FuzzLineColumn -fuzztime 30s ./agent/
	$(GO) test -run '^$$' -fuzz FuzzParseByteSize -fuzztime 30s ./limits/
	$(GO) test -run '^$$' -fuzz FuzzParseEval -fuzztime 30s ./probe/expr/
	$(GO) test -run '^$$' -fuzz FuzzParseStats -fuzztime 30s ./collectors/netlink/
	$(GO) test -run '^$$' -fuzz FuzzParseLink -fuzztime 30s ./collectors/netlink/
	$(GO) test -run '^$$' -fuzz FuzzScanLineAgreesWithDecodeLine -fuzztime 30s ./collectors/replay/
	$(GO) test -run '^$$' -fuzz FuzzDecodeNotification -fuzztime 30s ./collectors/gnmi/
	$(GO) test -run '^$$' -fuzz FuzzDecodePathValue -fuzztime 30s ./collectors/gnmi/
	$(GO) test -run '^$$' -fuzz FuzzElementPath -fuzztime 30s ./collectors/gnmi/
	$(GO) test -run '^$$' -fuzz FuzzTableState -fuzztime 30s ./collectors/gnmi/
	$(GO) test -run '^$$' -fuzz FuzzFileCollectorLoops -fuzztime 30s ./collectors/replay/
	$(GO) test -run '^$$' -fuzz FuzzDecodeFrames -fuzztime 30s ./agent/stream/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./collectors/system/
	$(GO) test -run '^$$' -fuzz FuzzParseContainerlab -fuzztime 30s ./topology/
	$(GO) test -run '^$$' -fuzz FuzzParseGraphJSON -fuzztime 30s ./topology/
	$(GO) test -run '^$$' -fuzz 'FuzzParse$$' -fuzztime 30s ./topology/query/
	$(GO) test -run '^$$' -fuzz FuzzParseFlow -fuzztime 30s ./lab/
	$(GO) test -run '^$$' -fuzz FuzzParseConfig -fuzztime 30s ./controller/
	$(GO) test -run '^$$' -fuzz FuzzMergeStageAnswers -fuzztime 30s ./controller/
	$(GO) test -run '^$$' -fuzz FuzzAnomalyFromJSON -fuzztime 30s ./aosout/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./bus/
	$(GO) test -run '^$$' -fuzz FuzzDecodeRecord -fuzztime 30s ./bus/kafkabus/
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 30s ./probestore/
	$(GO) test -run '^$$' -fuzz 'FuzzPatch$$' -fuzztime 30s ./agent/
	$(GO) test -run '^$$' -fuzz 'FuzzApply$$' -fuzztime 30s ./agent/
	$(GO) test -run '^$$' -fuzz FuzzProbeBodies -fuzztime 30s ./agent/api/
	$(GO) test -run '^$$' -fuzz FuzzApplyFileParsing -fuzztime 30s ./cmd/probectl/

# The agent on this host's interfaces (netlink) with the built-in demo probe,
# printing readable lines; Ctrl-C stops it.
# RSS of probe-agent run with 4,000 interfaces and 10 probes (docs/PERFORMANCE.md).
footprint:
	@# PROBE_AGENT_FOOTPRINT_NETLINK=1 measures the same probes on 4,000 ifb interfaces (root).
	PROBE_AGENT_FOOTPRINT=1 $(GO) test -count=1 -run MemoryFootprint -v ./agent/ | grep -E "VmRSS|ok|FAIL"

run: build
	./bin/probe-agent run --output text

proto:
	./proto/gen.sh

# Regenerates docs/processors.md from the catalog (a test fails when stale).
docs:
	$(GO) run ./cmd/probectl processors --format markdown > docs/processors.md

package:
	./packaging/build.sh dist

# The containerlab image of containerlab/leaf-spine-probe.clab.yml: Debian
# with the newest amd64 packages from dist/ (make package). Needs Docker.
LAB_IMAGE ?= probe-agent-lab:latest
lab-image: package
	@command -v docker >/dev/null 2>&1 || { echo "make lab-image needs Docker (docker build)"; exit 1; }
	rm -rf build/lab-image && mkdir -p build/lab-image
	cp containerlab/image/Dockerfile containerlab/image/entrypoint.sh build/lab-image/
	cp "$$(ls -t dist/probe-agent_*_amd64.deb | head -1)" build/lab-image/
	c="$$(ls -t dist/probe-controller_*_amd64.deb 2>/dev/null | head -1)"; [ -z "$$c" ] || cp "$$c" build/lab-image/
	docker build -t $(LAB_IMAGE) build/lab-image

# The leaf-spine fabric as network namespaces, with an agent per switch and
# the controller (root; containerlab/README.md goes on from here).
.PHONY: lab
LAB_DIR ?= /tmp/probe-lab
lab: build
	bin/probectl lab up containerlab/leaf-spine-probe.clab.yml --dir $(LAB_DIR)
	@echo "lab up in $(LAB_DIR): push a probe, send traffic and watch /status as containerlab/README.md shows;"
	@echo "bin/probectl lab down containerlab/leaf-spine-probe.clab.yml --dir $(LAB_DIR) removes it"

clean:
	rm -rf bin dist
