# groovybee - build, test, demo, fuzz, bench.
# `make` builds build/groovybee and build/libgroovybee.a; `make test` runs every test (release
# build, then again under AddressSanitizer + UndefinedBehaviorSanitizer); `make demo` runs the
# main job on the bundled corpus. Missing Debian packages are installed by scripts/deps.sh.

CC      ?= cc
B       ?= build
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
# OpenBLAS (CBLAS) and OpenMP carry the numerics, libpng the pictures, libfluidsynth the audio;
# scripts/deps.sh installs their -dev packages before the sub-make that compiles, so pkg-config
# finds them there.
BLAS_CFLAGS = $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   = $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas) -ldnnl
# (fluidsynth's own --cflags would bring SDL2's feature macros into every file; its headers
# need none)
MEDIA_CFLAGS = $(shell pkg-config --cflags libpng 2>/dev/null)
MEDIA_LIBS   = $(shell pkg-config --libs libpng fluidsynth 2>/dev/null || echo -lpng16 -lfluidsynth)
# jansson reads the listening test's JSON files, libcrypto hashes its key (SHA-256)
UTIL_LIBS    = $(shell pkg-config --libs jansson libcrypto 2>/dev/null || echo -ljansson -lcrypto)
# Open MPI carries data-parallel training (src/dist, the only file that includes mpi.h)
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   = $(shell pkg-config --libs ompi-c 2>/dev/null || echo -lmpi)
CFLAGS  += -fPIC -fno-semantic-interposition -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -fopenmp -Iinclude -Isrc \
           $(BLAS_CFLAGS) $(MEDIA_CFLAGS) -MMD -MP
LDLIBS  += $(BLAS_LIBS) $(MEDIA_LIBS) $(MPI_LIBS) $(UTIL_LIBS) -fopenmp -lm

LIB_SRC := $(wildcard src/core/*.c src/midi/*.c src/roll/*.c src/events/*.c src/model/*.c \
                     src/io/*.c src/train/*.c src/gen/*.c src/audio/*.c src/plot/*.c \
                     src/metrics/*.c src/dist/*.c src/api/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
TESTS   := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)

# make install PREFIX=/usr/local [DESTDIR=...]; make uninstall (scripts/install.sh lists the files)
PREFIX  ?= /usr/local
VERSION := $(shell sed -n 's/^\#define GB_VERSION "\(.*\)"/\1/p' include/groovybee.h)
SONAME  := libgroovybee.so.$(firstword $(subst ., ,$(VERSION)))

.PHONY: all build deps test demo demo-paper fuzz fuzz-run bench clean install uninstall
all:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory build
build: $(B)/groovybee $(B)/libgroovybee.a $(B)/libgroovybee.so.$(VERSION)
install: all
	@scripts/deps.sh man
	@B=$(B) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) VERSION=$(VERSION) scripts/install.sh install
uninstall:
	@B=$(B) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) VERSION=$(VERSION) scripts/install.sh uninstall

# (the flags live here: objects built with others are rebuilt when it changes)
$(B)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The Adam step's sqrtf vectorises only without errno semantics (gcc 12 keeps a scalar sqrtss
# and a libm call for negative arguments otherwise, __builtin_sqrtf and the optimize attribute
# included); nothing in adam.c reads errno.
$(B)/src/model/adam.o: CFLAGS += -fno-math-errno

$(B)/src/dist/dist.o: CFLAGS += $(MPI_CFLAGS)

$(B)/libgroovybee.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/libgroovybee.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(B)/groovybee: $(CLI_OBJ) $(B)/libgroovybee.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# the examples use the public header only, as a program outside the tree would
$(B)/examples/%: examples/%.c include/groovybee.h $(B)/libgroovybee.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(B)/libgroovybee.a -o $@ $(LDLIBS)

$(B)/tests/%: tests/%.c tests/test.h tests/tmpdir.h $(B)/libgroovybee.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(B)/libgroovybee.a -o $@ $(LDLIBS)

# The whole suite: unit tests and CLI checks in the release build, the mido cross-check, then
# the unit tests again under the sanitizers. tests/run.sh sums every program's closing line.
test:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory build $(TESTS) $(EXAMPLES)
	@$(MAKE) --no-print-directory B=build-asan CC=gcc \
	    OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    build $(patsubst $(B)/%,build-asan/%,$(TESTS) $(EXAMPLES))
	@tests/run.sh build build-asan

demo: all
	@scripts/demo.sh both
demo-paper: all
	@scripts/demo.sh paper

# libFuzzer targets (clang, ASan + UBSan): the MIDI reader (`make fuzz-run FUZZ_SECONDS=600`),
# the safetensors reader (build-fuzz/fuzz_safetensors -max_total_time=N) and the token reader
# and decoder of performance events (build-fuzz/fuzz_events -max_total_time=N).
FUZZ_SECONDS ?= 60
FUZZ_CC = clang -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
          -Iinclude -Isrc $(BLAS_CFLAGS) $(MEDIA_CFLAGS) $(MPI_CFLAGS)
fuzz:
	@scripts/deps.sh build fuzz
	@mkdir -p build-fuzz
	$(FUZZ_CC) fuzz/fuzz_midi.c $(LIB_SRC) -o build-fuzz/fuzz_midi $(BLAS_LIBS) $(MEDIA_LIBS) $(MPI_LIBS) -lgomp -lm
	$(FUZZ_CC) fuzz/fuzz_safetensors.c $(LIB_SRC) -o build-fuzz/fuzz_safetensors $(BLAS_LIBS) $(MEDIA_LIBS) $(MPI_LIBS) -lgomp -lm
	$(FUZZ_CC) fuzz/fuzz_events.c $(LIB_SRC) -o build-fuzz/fuzz_events $(BLAS_LIBS) $(MEDIA_LIBS) $(MPI_LIBS) -lgomp -lm
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
