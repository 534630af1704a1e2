# TailSweep. The README gives the two commands that matter:
#   make quickstart   # installs what is missing, fetches data, runs sweeps/quickstart.yaml
#   make test         # installs what is missing, fetches data, lint, build, every test
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_FLAGS := -c release -Xswiftc -target-cpu -Xswiftc haswell
BIN := .build/release/tailsweep

.PHONY: setup setup-test build release test lint format quickstart bench

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh test

build:
	$(SWIFT) build

release:
	$(SWIFT) build $(RELEASE_FLAGS)

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

test: setup-test lint
	$(SWIFT) build --build-tests
	# The static worker binary first, so that StaticWorkerTests' own build is incremental.
	scripts/static-worker.sh .build-static/tailsweep-static >/dev/null
	# The browser tests (LiveViewTests) must run here, never skip: setup-test installed chromium.
	TAILSWEEP_REQUIRE_BROWSER=1 $(SWIFT) test
	# Fuzz smoke: every libFuzzer target for 15 s (scripts/fuzz.sh 600 for the long runs).
	scripts/fuzz.sh 15

quickstart: setup release
	$(BIN) run sweeps/quickstart.yaml

bench: release
	scripts/bench.sh
