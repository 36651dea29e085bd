# Health Helper — the two commands of the README, and their parts.
#   make demo   simulate a patient and measure their heart rate with hhctl
#   make test   every test (release build: the DSP tests run real-length videos)
#   make bench  the benchmarks of docs/BENCHMARKS.md

SWIFT ?= swift
CONFIG ?= release
BIN = .build/$(CONFIG)
DEMO_DIR ?= out/demo

.PHONY: all deps build demo test bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG) --build-tests

demo: deps
	$(SWIFT) build -c $(CONFIG)
	@scripts/demo.sh $(BIN) $(DEMO_DIR)

test: build
	$(SWIFT) test -c $(CONFIG) --skip-build --parallel

bench: deps
	$(SWIFT) build -c release --product vitals-bench
	.build/release/vitals-bench

clean:
	rm -rf .build out
