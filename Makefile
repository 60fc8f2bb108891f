# Thin wrapper over CMake presets. `make run` (the gateway) and `make test` are all a
# newcomer needs; each installs missing Debian packages first.
.PHONY: all deps build run demo test test-asan bench clean

JOBS ?= 2

all: build

deps:
	@./scripts/deps.sh

build/dev/CMakeCache.txt: | deps
	cmake --preset dev >/dev/null

build: deps build/dev/CMakeCache.txt
	cmake --build --preset dev -j$(JOBS)

# The gateway on 127.0.0.1:8080 with its data in ./data; the first start
# prints the admin API key once (one JSON line on stdout).
run: build
	./build/dev/src/fmugwd --data-dir ./data

# The offline CLI demo (no daemon).
demo: build
	./scripts/demo.sh build/dev

test: build
	ctest --preset dev

test-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan

bench:
	@./scripts/deps.sh --bench
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS)
	./bench/run.sh build/release

clean:
	rm -rf build
