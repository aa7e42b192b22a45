# Two entry points (see README.md): `make demo` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh), then configure and build with CMake + Ninja.
BUILD      ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build test test-fast test-asan demo clean

all: build

deps:
	@scripts/install-deps.sh

# Release build with GCC; warnings are errors so both compilers stay warning-free.
build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DCONVKIT_WERROR=ON >/dev/null
	@cmake --build $(BUILD)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, built with Clang.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCONVKIT_WERROR=ON -DCONVKIT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -L unit

test-fast: build
	@ctest --test-dir $(BUILD) --output-on-failure

test: test-fast test-asan

demo: build
	@$(BUILD)/convkit demo

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
