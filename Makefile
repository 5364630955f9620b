# Demarc — the two commands are `make demo` and `make test`. Both install what
# is missing on a fresh Debian machine (we are root there) and are idempotent.

SHELL := /bin/bash
SWIFT ?= swift
# The browser E2EE code (Web/e2ee) is tested with node's built-in runner and WebCrypto.
NODE ?= node
# iproute2, nftables, iputils-ping: `demarc cluster up --netns` and the NetLab tests (as root).
APT_PACKAGES := libsodium-dev libprotobuf-c-dev protobuf-c-compiler libssl-dev pkg-config iso-codes iproute2 nftables iputils-ping
PROTO_FILES := $(shell find proto -name '*.proto')
GEN_DIR := Sources/CControlPlane

.PHONY: demo test deps pydeps testdeps build release proto bench bench-janus clean

## Install Debian packages that are missing (checked with dpkg, so a second run is a no-op).
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v $(NODE) >/dev/null 2>&1 || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call apt_install,$(APT_PACKAGES))

## Python packages for the interop tests (Tests/Interop): aiortc and websockets, from PyPI.
## Checked by importing them first, so a second run does not touch the network.
PY_PACKAGES := aiortc==1.16.0 websockets
## A Debian python3 refuses pip into its own site-packages (PEP 668); that install is
## this machine's test tooling, so it is allowed explicitly when the plain one is refused.
pydeps:
	@if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then \
	  echo "installing: python3 python3-pip"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3 python3-pip; \
	fi
	@python3 -c 'import aiortc, websockets' 2>/dev/null || python3 -m pip install --quiet $(PY_PACKAGES) \
	  || python3 -m pip install --quiet --break-system-packages $(PY_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product demarc

## Headless Chromium and its WebDriver for the web-client test (Debian's packages).
TEST_APT_PACKAGES := chromium chromium-driver
testdeps: deps pydeps
	$(call apt_install,$(TEST_APT_PACKAGES))

test: testdeps
	$(NODE) --test Tests/js/
	$(SWIFT) test --no-parallel

## The demo: a policy checked, then a real five-node cluster running meetings (scripts/demo.sh).
demo: deps pydeps
	$(SWIFT) build --product demarc
	@bash scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/demarc"

## Regenerate the protobuf-c code from proto/ (the output is committed).
proto: deps
	@tmp=$$(mktemp -d); \
	(cd proto && protoc-c --c_out=$$tmp $(patsubst proto/%,%,$(PROTO_FILES))); \
	for f in $$(cd $$tmp && find . -name '*.pb-c.h'); do mkdir -p $(GEN_DIR)/include/$$(dirname $$f); cp $$tmp/$$f $(GEN_DIR)/include/$$f; done; \
	for f in $$(cd $$tmp && find . -name '*.pb-c.c'); do mkdir -p $(GEN_DIR)/$$(dirname $$f); cp $$tmp/$$f $(GEN_DIR)/$$f; done; \
	rm -rf $$tmp; echo "regenerated $(GEN_DIR) from $(PROTO_FILES)"

bench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

## Issue 6's media benchmark side by side with Janus (Debian's janus, installed only for
## this target): Benchmarks/media-vs-janus.sh at 10, 50 and 100 subscribers.
BENCH_JANUS_APT_PACKAGES := janus curl
bench-janus: deps
	$(call apt_install,$(BENCH_JANUS_APT_PACKAGES))
	$(SWIFT) build -c release --product demarc-loadtest
	Benchmarks/media-vs-janus.sh $(SUBSCRIBERS)

clean:
	rm -rf .build .build-*
