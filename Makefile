# groovybee - build, test, demo, fuzz, bench.
# `make` builds build/groovybee and build/libgroovybee.a; `make test` runs every test (release
# build, then again under AddressSanitizer + UndefinedBehaviorSanitizer); `make demo` runs the
# main job on the bundled corpus. Missing Debian packages are installed by scripts/deps.sh.

CC      ?= cc
B       ?= build
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
CFLAGS  += -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Iinclude -Isrc -MMD -MP
LDLIBS  += -lm

LIB_SRC := $(wildcard src/core/*.c src/midi/*.c src/roll/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
TESTS   := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)

.PHONY: all deps test test-unit test-asan demo fuzz fuzz-run bench clean
all: deps $(B)/groovybee $(B)/libgroovybee.a

deps:
	@scripts/deps.sh build

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libgroovybee.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/groovybee: $(CLI_OBJ) $(B)/libgroovybee.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(B)/tests/%: tests/%.c tests/test.h $(B)/libgroovybee.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(B)/libgroovybee.a -o $@ $(LDLIBS)

# The whole suite: unit tests and CLI checks in the release build, the mido cross-check, then
# the unit tests again under the sanitizers. tests/run.sh sums every program's closing line.
test:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory all $(TESTS)
	@$(MAKE) --no-print-directory B=build-asan CC=gcc \
	    OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    all $(patsubst $(B)/%,build-asan/%,$(TESTS))
	@tests/run.sh build build-asan

demo: all
	@scripts/demo.sh

# libFuzzer target for the MIDI reader (clang, ASan + UBSan). `make fuzz-run FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh build fuzz
	@mkdir -p build-fuzz
	clang -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Iinclude -Isrc fuzz/fuzz_midi.c $(LIB_SRC) -o build-fuzz/fuzz_midi -lm
fuzz-run: fuzz
	@mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_midi -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus tests/fuzz_regressions data/jsb \
	    data/classical

bench: all
	@scripts/deps.sh test
	@bench/parse.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
