# Foundation for C — the commands a newcomer needs.  CMake does the work.
#   make demo      install missing Debian packages, build, run the showcase
#   make test      install missing packages, build, run the quick suite
#   make bench     benchmarks side by side with the BEAM
#   make sanitize  ASan+UBSan and TSan builds, each running the quick suite
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all deps build demo test bench sanitize asan tsan valgrind stress clean

all: build

deps:
	@scripts/install-deps

# Configure every time (cheap): the options are stated, never inherited
# from an old cache.
build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFDN_BUILD_TESTS=ON -DFDN_BUILD_EXAMPLES=ON -DFDN_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

test: build
	ctest --test-dir $(BUILD) -L quick --output-on-failure -j $(JOBS) --timeout 300
	@# The spin models just ran as the ctest model_check; do not run them twice.
	SKIP_MODELS=1 scripts/verify_specifications.sh
	scripts/verify_contracts.sh

stress: build
	ctest --test-dir $(BUILD) -L stress --output-on-failure --timeout 900

bench: build
	scripts/bench.sh $(BUILD)

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFDN_SANITIZE=address,undefined -DFDN_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ctest --test-dir build-asan -L quick -LE nosan --output-on-failure -j $(JOBS) --timeout 600

tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DFDN_SANITIZE=thread -DFDN_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang
	cmake --build build-tsan -j $(JOBS)
	TSAN_OPTIONS="halt_on_error=1 allocator_may_return_null=1 suppressions=$(CURDIR)/scripts/tsan.supp" ctest --test-dir build-tsan -L quick -LE nosan --output-on-failure -j $(JOBS) --timeout 600

sanitize: asan tsan

valgrind: build
	scripts/valgrind.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan
