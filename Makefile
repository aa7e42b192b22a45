# Two entry points (see README.md): `make demo` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh), then configure and build with CMake + Ninja.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZERS    := npy nifti model_json kernel_text csv image filter_spec bench_suite conv_plan
BENCH_BUILD ?= build-bench

SHELL := /bin/bash

.PHONY: all deps build python test test-fast test-python test-python-install test-asan fuzz fuzz-long demo clean

all: build

deps:
	@scripts/install-deps.sh

# Release build with GCC; warnings are errors so both compilers stay warning-free.
CONFIGURE_RELEASE = cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DCONVKIT_WERROR=ON
build: deps
	@$(CONFIGURE_RELEASE) >/dev/null
	@cmake --build $(BUILD)

# The Python package in the build tree ($(BUILD)/python/convkit; `make build` builds it too):
# PYTHONPATH=$(BUILD)/python /usr/bin/python3 -c "import convkit".
python: deps
	@$(CONFIGURE_RELEASE) >/dev/null
	@cmake --build $(BUILD) --target convkit_python

# The pytest suite (tests/python) on the build tree's package, with Debian's python3 (numpy, torch, scipy).
PYTHON ?= /usr/bin/python3
test-python: build
	@PYTHONPATH=$(BUILD)/python CONVKIT_BUILD_DIR=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/python

# The README's install (a venv, pip install --no-build-isolation, offline) from a clean copy of the sources.
test-python-install: build
	@tests/python/install_test.sh $(BUILD)/python-install-test

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, built with Clang.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCONVKIT_WERROR=ON -DCONVKIT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -L unit

# Every libFuzzer target (Clang, ASan+UBSan) for FUZZ_SECONDS each, starting from fuzz/corpus/<name>;
# new corpus entries and crash reproducers stay in $(FUZZ_BUILD). `make test` runs this short run;
# `make fuzz-long FUZZ_SECONDS=3600` is the same for as long as asked. Memory or time that grows with a
# number rather than with the data counts as a crash (-rss_limit_mb, -malloc_limit_mb, -timeout).
FUZZ_LIMITS := -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20
# Long inputs where the format has them (a model of thousands of layers; whole images).
export FUZZ_MAX_LEN_model_json := 262144
export FUZZ_MAX_LEN_image := 65536
export FUZZ_MAX_LEN_bench_suite := 65536
fuzz fuzz-long: deps
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCONVKIT_WERROR=ON -DCONVKIT_SANITIZE=ON -DCONVKIT_FUZZ=ON -DCONVKIT_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD)
	@for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$f && cp fuzz/corpus/$$f/* $(FUZZ_BUILD)/corpus/$$f/ && \
	  echo "fuzz: $$f for $(FUZZ_SECONDS) s" && \
	  max_len_var=FUZZ_MAX_LEN_$$f; \
	  $(FUZZ_BUILD)/fuzz/$${f}_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_LIMITS) \
	    $$( [ -n "$${!max_len_var:-}" ] && echo -max_len=$${!max_len_var} ) \
	    -artifact_prefix=$(FUZZ_BUILD)/$$f- $(FUZZ_BUILD)/corpus/$$f 2>&1 | grep -E "^(stat::number_of_executed_units|==|SUMMARY|conv_plan_fuzz|image_fuzz|filter_spec_fuzz|bench_suite_fuzz|model_json_fuzz)" \
	    ; test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

fuzz-long: FUZZ_SECONDS = 3600

test-fast: build
	@ctest --test-dir $(BUILD) --output-on-failure

test: test-fast test-python test-python-install test-asan fuzz

# Only the library and the CLI (not the tests, the Python extension or the benchmark peers), then the tour.
demo: deps
	@$(CONFIGURE_RELEASE) >/dev/null
	@cmake --build $(BUILD) --target convkit_cli
	@$(BUILD)/convkit demo

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# The benchmark against oneDNN and XNNPACK (docs/benchmarks.md): installs the peers, builds with
# CONVKIT_PEERS=ON in $(BENCH_BUILD) and runs the whole suite; `make test` never needs the peers.
.PHONY: bench
bench:
	@scripts/install-deps.sh --peers
	@cmake -S . -B $(BENCH_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DCONVKIT_WERROR=ON \
	  -DCONVKIT_PEERS=ON >/dev/null
	@cmake --build $(BENCH_BUILD)
	$(BENCH_BUILD)/convkit bench --peers --json $(BENCH_BUILD)/bench.json
