# The two commands of the README. Each installs what is missing first (scripts/setup.sh).
.PHONY: run test check screenshots bench bench-compare bench-web-compare train accuracy fuzz e2e-stress setup dist clean

PORT ?= 8080

## Build the web app and serve it on http://127.0.0.1:$(PORT)
run: setup dist
	node scripts/serve.mjs dist $(PORT)

## Everything CI checks: fmt, clippy (native + wasm32), native + GPU tests, wasm tests, e2e
test: setup
	scripts/test.sh

## The quick loop while changing code (a few minutes warm): fmt, clippy on every target, native tests
## on the committed fixtures. make test is the full gate.
check: setup
	scripts/check.sh

## The README's pictures (assets/screenshot.png, assets/tour/), taken from the built app
screenshots: setup dist
	node scripts/screenshots.mjs

## CPU speed vs PyTorch (same machine, same run) → BENCHMARKS.md
bench: setup
	scripts/bench.sh

# This checkout against REV (a git revision), interleaved on the CPU: make bench-compare REV=HEAD~3
bench-compare: setup
	scripts/bench-compare.sh

# The same in Chromium: this checkout's single-thread wasm against REV's, each against ONNX Runtime Web
bench-web-compare: setup
	scripts/bench-web-compare.sh

## Open the built app N times (default 300) in fresh pages, both builds: how many reach a first result
e2e-stress: setup dist
	node tests/e2e/stress.mjs

## Train the default model (Fashion-MNIST SE-ResNet + its no-SE twin, ~1 h) → assets/models/
train: setup
	scripts/train.sh

## The default model's test accuracy, our engine vs PyTorch (LIMIT=n: n images per class)
accuracy: setup
	scripts/accuracy.sh

## Property-fuzz every parser (model folders, ONNX files, npy, images) for FUZZ_SECONDS (default 300)
fuzz: setup
	scripts/fuzz.sh

setup:
	scripts/setup.sh

dist:
	scripts/build-web.sh

clean:
	rm -rf dist target
