# ptpcam — run as root on Debian: `make demo`, `make test`.
export PATH := /usr/local/go/bin:$(PATH)
GO        ?= go
PROMU     := $(GO) tool -modfile=tools/go.mod promu
NFPM      := $(GO) tool -modfile=tools/go.mod nfpm
BUILD_DIR := .build
VERSION   := $(shell cat VERSION)
DEB       := $(BUILD_DIR)/ptpcam_$(VERSION)_amd64.deb
FUZZTIME  ?= 15s

.PHONY: all deps build promu tarball deb deb-check test unit fuzz lint bench demo dashboards clean compat

all: build

deps:
	@./.ci/deps.sh

build: deps
	$(GO) build -o $(BUILD_DIR)/ ./cmd/...

# The release build: promu with cgo and version ldflags; every binary must
# really be a cgo build (Aravis is a shared library).
promu: deps
	$(PROMU) build --prefix $(BUILD_DIR)/promu
	@for b in $(BUILD_DIR)/promu/*; do \
		$(GO) version -m $$b | grep -q 'CGO_ENABLED=1' || { echo "$$b: not a cgo build"; exit 1; }; \
		$$b --version 2>&1 | grep -q "^$$(basename $$b), version $$(cat VERSION) " || { echo "$$b: no version info"; exit 1; }; \
	done
	@echo "promu: all binaries built with CGO_ENABLED=1 and version info"

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags noaravis ./...
	CGO_ENABLED=0 $(GO) build ./...
	@if [ -d alerts ]; then promtool check rules alerts/*.rules.yml; fi

# One package at a time: the rig tests run real ptp4l, camsims, Aravis and
# ffmpeg, and two such packages side by side starve each other on 2 cores.
unit: deps
	$(GO) test -p 1 -count=1 -timeout 20m ./...

# Short fuzz runs of the decoders of untrusted input: ptp4l's answers and GVCP.
fuzz: deps
	$(GO) test ./pmc/ -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pmc/ -run '^$$' -fuzz '^FuzzPortStats$$' -fuzztime $(FUZZTIME)
	$(GO) test ./camsim/ -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime $(FUZZTIME)

# The release tarball .promu.yml declares: the binaries and its files.
# promu names it after the git remote's URL (a clone of a local path gave
# `main-` or `.-`): the remote is set to .promu.yml's repository for this
# command only, so the name is ptpcam-VERSION.linux-amd64 in any checkout.
TARBALL     := $(BUILD_DIR)/ptpcam-$(VERSION).linux-amd64.tar.gz
PROMU_REMOTE = GIT_CONFIG_KEY_0=branch.$$(git rev-parse --abbrev-ref HEAD).remote \
	GIT_CONFIG_VALUE_0=promu GIT_CONFIG_KEY_1=remote.promu.url \
	GIT_CONFIG_VALUE_1=https://$$(awk '/^ *path:/{print $$2; exit}' .promu.yml) GIT_CONFIG_COUNT=2
tarball: promu
	rm -f $(TARBALL)
	$(PROMU_REMOTE) $(PROMU) tarball --prefix $(BUILD_DIR) $(BUILD_DIR)/promu
	@list=$$(tar -tzf $(TARBALL)) || { echo "tarball: $(TARBALL) not made"; exit 1; }; \
	for f in ptpcam_exporter ptpcamcheck camrecord LICENSE ptpcam.rules.yml record.rules.yml ptpcam.json recorder.json prometheus.yml; do \
		printf '%s\n' "$$list" | grep -qx "ptpcam-$(VERSION).linux-amd64/$$f" || { echo "tarball: $(TARBALL) lacks $$f"; exit 1; }; \
	done; echo "tarball: $(TARBALL), $$(printf '%s\n' "$$list" | grep -c .) entries"

# One Debian package (nfpm, a Go tool module like promu) of the promu build.
deb: promu
	VERSION=$(VERSION) $(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DEB)

# What a user installing the package sees: contents, units, --version.
deb-check: deb
	./packaging/check-deb.sh $(DEB)

test: lint unit fuzz promu tarball deb-check
	@if [ -d alerts ]; then promtool test rules alerts/*_test.yml; fi

# Benchmarks print the ratios they are judged by, measured in one run.
bench: deps
	$(GO) test ./pmc/ -run '^$$' -bench NativeVsPmc -benchtime 20x -count 1
	$(GO) test ./cmd/ptpcam_exporter/ -run '^$$' -bench Scrape -benchtime 1x -count 1
	$(GO) test ./genicam/ -run '^$$' -bench Latch8 -benchtime 1000x -count 1
	$(GO) test ./camsim/ -run '^$$' -bench Stream1080p -benchtime 150x -count 1
	$(GO) test ./record/ -run '^$$' -bench Pipeline -benchtime 1x -count 1 -timeout 300s
	$(GO) test ./cmd/camrecord/ -run '^$$' -bench RecordRig1080p -benchtime 1x -count 1 -timeout 300s
	$(GO) test ./cmd/camrecord/ -run '^$$' -bench VsAravis1080p -benchtime 1x -count 1 -timeout 300s

# Regenerate the Grafana dashboards from their Go source (a test fails when
# a committed JSON is stale).
dashboards: deps
	$(GO) run ./dashboards/gen -d dashboards

# The compatibility matrix: a rig of a camera impersonated from each XML in
# ../shared/vendor-xml plus camsim's own profiles, judged by ptpcamcheck and
# the exporter (cmd/ptpcamcheck TestCompat); prints the table the README shows.
compat: deps
	@mkdir -p $(BUILD_DIR)
	@CI=true $(GO) test -count=1 -timeout 20m -run '^TestCompat$$' -v ./cmd/ptpcamcheck/ > $(BUILD_DIR)/compat.log 2>&1; rc=$$?; \
		grep '^| ' $(BUILD_DIR)/compat.log; \
		[ $$rc -eq 0 ] || { tail -60 $(BUILD_DIR)/compat.log; exit $$rc; }

demo: build
	./.ci/demo.sh

clean:
	rm -rf $(BUILD_DIR)
