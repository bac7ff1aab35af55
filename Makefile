# dmamap: the two commands a new machine needs.
#   make demo   installs what is missing, builds, runs the built-in demo
#   make check  installs what is missing, builds, runs every test, then
#               the whole suite again under ASan + UBSan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
BUILD_ASAN ?= build-asan

.PHONY: all deps build demo check test test-asan bench clean install

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/dmamap demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DDMAMAP_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

check: test test-asan
	@echo "check: all suites passed (plain and ASan+UBSan)"

bench: build
	./$(BUILD)/dmamap bench --backend direct --size 4096 --seconds 1
	./$(BUILD)/dmamap bench --backend swiotlb --size 4096 --seconds 1
	./$(BUILD)/dmamap bench --backend swiotlb-slots --size 4096 --seconds 1

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
