# openperouter: see README.md. Every target installs what it needs.
SHELL := /bin/bash
NODE := ./node_modules/.bin/node
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: all deps system-deps build lint test test-unit demo crds clean bench

all: build

node_modules/.stamp: package.json package-lock.json
	@# npm ci rejects this lock file (npm 11 leaves other platforms' optional packages out); install does not.
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

deps: node_modules/.stamp

system-deps:
	@scripts/install-system-deps.sh

build: deps
	tsc -p tsconfig.json

lint: deps
	biome check .

crds: build
	$(NODE) dist/src/cli/main.js crds --out deploy/crds

# Unit tests, CRD staleness, golden renders and FRR acceptance against real FRR.
test: build system-deps lint
	$(NODE) --test --test-reporter=spec "dist/test/**/*.test.js"

# Benchmarks (not part of `make test`; root): one table with every figure next to its same-run floor,
# bench/results/latest.{json,md}. LAB=1 adds the lab section, BENCH_QUICK=1 is a short smoke run.
bench: build system-deps
	LAB=$(LAB) BENCH_QUICK=$(BENCH_QUICK) $(NODE) dist/bench/main.js

demo: build
	@scripts/demo.sh

clean:
	rm -rf dist
