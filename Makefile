# edgek build and test entry points. `make build` gives bin/edgek; `make test` is what CI runs;
# `make release` gives dist/ (every arch; scripts/release.sh).
SHELL := /bin/bash
GO ?= go
# One set of build flags for build, vet and test, so that they share the build cache
# (a cold build of the Kubernetes components takes minutes).
# Build tags leave out containerd snapshotters edgek does not use (devmapper, zfs, btrfs).
export GOFLAGS := -trimpath -buildvcs=false -tags=no_devmapper,no_zfs,no_btrfs
export CGO_ENABLED := 0
K8S_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# Where `make build` writes the binary (scripts/release.sh sets dist/edgek-<arch>).
BIN ?= bin/edgek
CV := k8s.io/component-base/version
CG := k8s.io/client-go/pkg/version
LDFLAGS := -s -w \
	-X github.com/edgek-io/edgek/pkg/version.Version=$(VERSION) \
	-X github.com/edgek-io/edgek/pkg/version.GitCommit=$(COMMIT) \
	-X github.com/edgek-io/edgek/pkg/version.BuildDate=$(BUILD_DATE) \
	-X $(CV).gitVersion=$(K8S_VERSION) -X $(CV).gitMajor=1 -X $(CV).gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
	-X $(CV).gitTreeState=clean -X $(CV).buildDate=$(BUILD_DATE) \
	-X $(CG).gitVersion=$(K8S_VERSION) -X $(CG).gitMajor=1 -X $(CG).gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
	-X $(CG).gitTreeState=clean -X $(CG).buildDate=$(BUILD_DATE)
# Unit tests: everything but the end-to-end suite (which needs root and builds nothing itself).
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /test/e2e)
# What edgek carries as binaries (runc, CNI plugins, pause; see pkg/data), built from the separate
# module in build/tools. The archive is generated and embedded, so build, vet and unit need it.
DATA := pkg/data/assets/data.tar.zst
DATA_INPUTS := scripts/build-data.sh $(shell find build/tools build/crictl build/coredns build/dashboard -type f 2>/dev/null)
# A GOARCH other than the one the archive was built for forces a rebuild (GOARCH=arm64 or arm,
# with GOARM=7, cross-compile; see scripts/build-data.sh).
DATA_ARCH := $(shell $(GO) env GOARCH)
# Tools the end-to-end suite drives edgek with (test/tools).
HELM := _build/tools/helm
DATA_FORCE := $(if $(filter $(DATA_ARCH),$(shell cat pkg/data/assets/data.goarch 2>/dev/null)),,FORCE)

.PHONY: build run test unit e2e bench deps vet fmt clean data release release-ci FORCE

build: $(DATA)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/edgek

# A single-node server from a checkout (root; state in /var/lib/edgek).
run: build
	sudo ./bin/edgek server

data: $(DATA)

# dist/edgek-{amd64,arm64,armhf}, their compressed downloads, sha256sum-<arch>.txt and version
# (the release contract); leaves the native data archive in place.
release:
	VERSION='$(VERSION)' ./scripts/release.sh

# make test builds every arch, but compresses only the download its VM test installs (amd64).
release-ci:
	VERSION='$(VERSION)' RELEASE_COMPRESS_ARCHES=amd64 ./scripts/release.sh

$(DATA): $(DATA_INPUTS) $(DATA_FORCE)
	./scripts/build-data.sh

deps:
	./scripts/ci-deps.sh

vet: $(DATA)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	$(GO) vet -tags vm ./test/vm/
	GOFLAGS=-mod=readonly $(GO) -C build/tools vet ./...
	GOFLAGS=-mod=readonly $(GO) -C build/coredns vet ./...
	GOFLAGS=-mod=readonly $(GO) -C build/dashboard vet ./...
	@test -z "$$(gofmt -l cmd pkg test build manifests)" || { gofmt -l cmd pkg test build; echo "gofmt: files above need formatting"; exit 1; }

unit: $(DATA)
	$(GO) test -count=1 $(UNIT_PKGS)
	COREDNS_BIN=$(CURDIR)/build/out/$(DATA_ARCH)/bin/coredns GOFLAGS=-mod=readonly $(GO) -C build/coredns test -count=1 ./...
	GOFLAGS=-mod=readonly $(GO) -C build/dashboard test -count=1 ./...

e2e: build $(HELM)
	EDGEK_BIN=$(CURDIR)/bin/edgek HELM_BIN=$(CURDIR)/$(HELM) $(GO) test -tags e2e -count=1 -timeout 60m -v ./test/e2e/

# Helm, pinned in the separate module test/tools, for the suite's chart test.
$(HELM): test/tools/go.mod test/tools/go.sum
	GOFLAGS='-mod=readonly -trimpath -buildvcs=false' $(GO) -C test/tools build -o $(CURDIR)/$(HELM) helm.sh/helm/v4/cmd/helm

# The whole suite, as CI runs it: static checks, unit tests, the end-to-end suite on this host
# (in test network namespaces), the release for every arch, and the amd64 VM scenarios on it.
test: deps vet unit e2e release-ci vm-test-ci

bench: deps build
	./scripts/bench.sh

fmt:
	gofmt -w cmd pkg test build manifests

clean:
	rm -rf bin dist _build build/out $(DATA) pkg/data/assets/data.goarch

# Real-VM tests (test/vm): Debian bookworm guests with systemd and cgroup v2 under qemu (TCG),
# driven over SSH through the README's `curl | sh`. The image is built once by
# scripts/vm-image.sh and cached in /var/cache/edgek-vm. Serves dist/ (EDGEK_DIST) when it holds
# the arch's binary, else bin/edgek. Needs root.
.PHONY: vm-test vm-test-ci vm-test-arm64
vm-test: build
	EDGEK_VM_ARCH=amd64 $(GO) test -tags vm -count=1 -timeout 85m -v ./test/vm/

# The VM scenario `make test` runs, on what `make release` built for amd64: install, Ready, pod
# and Service by name, reboot, upgrade, uninstall with nothing left. The clock scenario (1970,
# then a jump) and the two-guest agent join are in vm-test: with them CI would not keep a safe
# margin inside its 90 minutes on two cores (docs/BENCHMARKS.md).
VM_CI_TESTS := TestServer
vm-test-ci:
	EDGEK_VM_ARCH=amd64 EDGEK_DIST=$(CURDIR)/dist $(GO) test -tags vm -count=1 -timeout 60m -v \
		-run '^($(VM_CI_TESTS))$$' ./test/vm/

# Emulated arm64 (slow: not in CI), server scenario, on dist/edgek-arm64 (`make release`). The
# upgrade step needs a second arm64 build with another version: built into _build/ here.
UPGRADE_DIST := $(CURDIR)/_build/upgrade-arm64
vm-test-arm64:
	@test -x dist/edgek-arm64 || { echo "dist/edgek-arm64 is missing: run 'make release' first"; exit 1; }
	DIST=$(UPGRADE_DIST) VERSION="$$(cat dist/version)-upgrade" RELEASE_ARCHES=arm64 RELEASE_FORMATS= \
		./scripts/release.sh
	EDGEK_VM_ARCH=arm64 EDGEK_UPGRADE_BIN=$(UPGRADE_DIST)/edgek-arm64 \
		EDGEK_UPGRADE_VERSION="$$(cat $(UPGRADE_DIST)/version)" \
		$(GO) test -tags vm -count=1 -timeout 180m -v -run 'TestServer$$' ./test/vm/
