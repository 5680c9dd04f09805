# edgek build and test entry points. `make build` gives bin/edgek; `make test` is what CI runs.
SHELL := /bin/bash
GO ?= go
# One set of build flags for build, vet and test, so that they share the build cache
# (a cold build of the Kubernetes components takes minutes).
export GOFLAGS := -trimpath -buildvcs=false
export CGO_ENABLED := 0
K8S_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
CV := k8s.io/component-base/version
CG := k8s.io/client-go/pkg/version
LDFLAGS := -s -w \
	-X github.com/edgek-io/edgek/pkg/version.Version=$(VERSION) \
	-X github.com/edgek-io/edgek/pkg/version.GitCommit=$(COMMIT) \
	-X $(CV).gitVersion=$(K8S_VERSION) -X $(CV).gitMajor=1 -X $(CV).gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
	-X $(CV).gitTreeState=clean -X $(CV).buildDate=$(BUILD_DATE) \
	-X $(CG).gitVersion=$(K8S_VERSION) -X $(CG).gitMajor=1 -X $(CG).gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
	-X $(CG).gitTreeState=clean -X $(CG).buildDate=$(BUILD_DATE)
# Unit tests: everything but the end-to-end suite (which needs root and builds nothing itself).
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /test/e2e)

.PHONY: build run test unit e2e bench deps vet fmt clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/edgek ./cmd/edgek

# A single-node server from a checkout (root; state in /var/lib/edgek).
run: build
	sudo ./bin/edgek server

deps:
	./scripts/ci-deps.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	@test -z "$$(gofmt -l cmd pkg test)" || { gofmt -l cmd pkg test; echo "gofmt: files above need formatting"; exit 1; }

unit:
	$(GO) test -count=1 $(UNIT_PKGS)

e2e: build
	EDGEK_BIN=$(CURDIR)/bin/edgek $(GO) test -tags e2e -count=1 -timeout 60m -v ./test/e2e/

# The whole suite, as CI runs it.
test: deps vet unit e2e

bench: build
	./scripts/bench.sh

clean:
	rm -rf bin
