# openperouter: see README.md. Every target installs what it needs.
SHELL := /bin/bash
NODE := ./node_modules/.bin/node
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: all deps system-deps build lint test test-unit demo crds clean

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

demo: build
	@scripts/demo.sh

clean:
	rm -rf dist
