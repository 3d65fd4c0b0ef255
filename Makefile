# SPDX-License-Identifier: Apache-2.0
# edgek's build. GNU make, no generator. `make help` lists the targets.

.DEFAULT_GOAL := all
SHELL := /bin/bash

ARCH ?= $(shell uname -m)
CC ?= gcc
CLANG ?= clang
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-builtin-rules
# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

VERSION := v0.1.0
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

# Every part's sources, except the entry points in cmd/.
PART_DIRS := lib api server server/apiserver server/auth server/controllers server/scheduler \
	storage/kv storage/provision node node/runtime node/image \
	net net/podnet net/proxy net/dns net/ingress net/policy
PART_SRCS := $(sort $(foreach d,$(PART_DIRS),$(wildcard $(d)/*.c)))
CMD_SRCS := $(sort $(wildcard cmd/*.c))
# Data files compiled into the binary.
SCHEMA_FILES := $(sort $(wildcard api/schema/*.schema))
GEN_SRCS := build/gen/schema_data.c
PART_SRCS += $(GEN_SRCS)
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))

PKG_LIBS := libuv sqlite3 jansson yaml-0.1 libnftnl libmnl libzstd zlib
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wno-unused-parameter
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -I. $(WARN) -fstack-protector-strong \
	-DEK_VERSION='"$(VERSION)"' -DEK_GIT_COMMIT='"$(GIT_COMMIT)"' \
	$(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
LIBS := $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null) -lmbedtls -lmbedx509 -lmbedcrypto \
	-lhttp_parser -lpthread -lm

DEV_CFLAGS := $(BASE_CFLAGS) -O2 -g -D_FORTIFY_SOURCE=2 -MMD -MP
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -DEK_SANITIZE=1 -MMD -MP
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -DEK_FUZZ=1 \
	-fsanitize=address,undefined,fuzzer-no-link -MMD -MP
REL_CFLAGS := $(BASE_CFLAGS) -Os -DNDEBUG -D_FORTIFY_SOURCE=2 -ffunction-sections \
	-fdata-sections -MMD -MP

# Release: every library Debian ships as a static archive is linked statically; libc and
# libmnl (no libmnl.a in Debian) stay dynamic.
STATIC_LIBS := -luv_a -lsqlite3 -ljansson -lyaml -lnftnl -lzstd -lz -lmbedtls -lmbedx509 \
	-lmbedcrypto -lhttp_parser
REL_LIBS := -Wl,-Bstatic $(STATIC_LIBS) -Wl,-Bdynamic -lmnl -lpthread -ldl -lm

DEV_OBJS := $(patsubst %.c,build/dev/%.o,$(PART_SRCS) $(CMD_SRCS))
ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(PART_SRCS) $(UNIT_SRCS))
REL_OBJS := $(patsubst %.c,build/release/%.o,$(PART_SRCS) $(CMD_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,build/fuzz/%.o,$(PART_SRCS))

.PHONY: all deps run check unit e2e release format format-check lint fuzz help clean \
	bench-% FORCE

## all: dev build of ./edgek (dynamic, -O2 -g, warnings are errors)
all: deps edgek

## deps: install the Debian packages that are missing (as root; a no-op when all are there)
deps:
	@scripts/deps.sh

build/gen/schema_data.c: $(SCHEMA_FILES) scripts/embed.sh
	@mkdir -p $(dir $@)
	$(Q)scripts/embed.sh ek__schema_text $(SCHEMA_FILES) > $@

edgek: $(DEV_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(LIBS)

build/dev/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [dev] $<")
	$(Q)$(CC) $(DEV_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [asan] $<")
	$(Q)$(CC) $(ASAN_CFLAGS) -c -o $@ $<

build/release/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [release] $<")
	$(Q)$(CC) $(REL_CFLAGS) -c -o $@ $<

build/fuzz/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [fuzz] $<")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

build/asan/unit: $(ASAN_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -fsanitize=address,undefined -o $@ $^ $(LIBS)

## run: build and start a single-node cluster in the foreground
run: all
	@scripts/run.sh

## check: the whole test suite (unit tests under ASan+UBSan, then e2e)
check: deps unit e2e

## unit: unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (TESTS=pattern)
unit: build/asan/unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		build/asan/unit -j $(JOBS) $(TESTS)

## e2e: end-to-end tests driving real kubectl against real edgek (E2E=pattern)
e2e: all
	@tests/e2e/run.sh $(E2E)

## release: optimized, stripped binary, statically linked except libc and libmnl
release: deps edgek-release
	@stat -c %s edgek-release | awk '{ printf "edgek-release: %d bytes (%.2f MB)\n", $$1, $$1 / 1048576 }'

edgek-release: $(REL_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -Wl,--gc-sections -Wl,-O1 -o $@ $^ $(REL_LIBS)
	$(Q)strip --strip-all $@

## format: clang-format every C file in place; format-check: fail if any is not formatted
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_FILES)
format-check:
	clang-format --dry-run -Werror $(C_FILES)

## lint: cppcheck and clang-tidy
lint: deps
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=varFuncNullUB -D_GNU_SOURCE -I. $(PART_DIRS) cmd
	clang-tidy --quiet $(PART_SRCS) $(CMD_SRCS) -- $(BASE_CFLAGS)

## fuzz: run every libFuzzer target for FUZZ_SECONDS each (corpora in build/fuzz/corpus-*)
fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_NAMES))
	@set -e; for n in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/corpus-$$n; \
		echo "== fuzz $$n for $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build/fuzz/crash-$$n- build/fuzz/corpus-$$n \
			tests/fuzz/corpus/$$n; \
	done

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CLANG) -fsanitize=address,undefined,fuzzer -o $@ $^ $(LIBS)

## bench-NAME: run tests/bench/NAME (prints the peer measured in the same run and the ratio)
bench-%: all
	@tests/bench/$*/run.sh

# A benchmark's C program, tests/bench/NAME/bench_NAME.c, linked with the dev build's parts
# (second expansion: the stem appears twice in the source's name).
BENCH_LIB_OBJS := $(patsubst %.c,build/dev/%.o,$(PART_SRCS))
.SECONDEXPANSION:
build/bench/%: tests/bench/$$*/bench_$$*.c $(BENCH_LIB_OBJS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(DEV_CFLAGS) -o $@ $< $(BENCH_LIB_OBJS) $(LIBS)

## clean: remove build outputs
clean:
	rm -rf build edgek edgek-release

help:
	@grep -E '^## ' Makefile | sed 's/^## /  /'

-include $(shell find build -name '*.d' 2>/dev/null)
