# SPDX-License-Identifier: Apache-2.0
# edgek's build. GNU make, no generator. `make help` lists the targets.

.DEFAULT_GOAL := all
SHELL := /bin/bash

FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-builtin-rules
# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# Target architecture, in Debian's names: the machine's own by default; ARCH=arm64 or
# ARCH=armhf on the command line cross-builds with Debian's cross compiler and the :ARCH -dev
# packages (multiarch), which `make deps ARCH=...` installs. Objects go to build/<arch>/, so
# builds for several architectures live side by side. Only the command line selects a target:
# an ARCH in the environment (kernel builds export ARCH=x86) must not turn `make check` into
# a cross build.
NATIVE_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
ifneq ($(origin ARCH),command line)
ARCH := $(NATIVE_ARCH)
endif
# Not handed to the scripts recipes run (tests/fixtures/mkimage.sh has an ARCH of its own).
unexport ARCH
override ARCH := $(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(patsubst armv7l,armhf,$(ARCH))))
TRIPLET_amd64 := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
TRIPLET_armhf := arm-linux-gnueabihf
QEMU_arm64 := qemu-aarch64-static
QEMU_armhf := qemu-arm-static
# What uname -m says on each, under qemu-user as on the board.
UNAME_arm64 := aarch64
UNAME_armhf := armv7l
TRIPLET := $(TRIPLET_$(ARCH))
ifeq ($(TRIPLET),)
$(error unknown ARCH=$(ARCH): use $(NATIVE_ARCH), arm64 or armhf)
endif
B := build/$(ARCH)
CLANG ?= clang
ifeq ($(ARCH),$(NATIVE_ARCH))
CROSS :=
ifeq ($(origin CC),default)
CC := gcc
endif
STRIP := strip
PKG_CONFIG := pkg-config
REL_OUT := edgek-release
DEV_OUT := edgek
else
CROSS := $(TRIPLET)-
ifneq ($(origin CC),command line)
CC := $(CROSS)gcc
endif
STRIP := $(CROSS)strip
# What scripts/deps.sh unpacks for the target when apt cannot install it (see there why):
# always libhttp_parser.a, and every library when the foreign index lags the native one.
# Looked at before the multiarch directories; harmless when empty.
DEPS_ROOT := $(abspath $(B)/deps/root)
DEPS_LIB := $(DEPS_ROOT)/usr/lib/$(TRIPLET)
# 32-bit ARM: 64-bit time_t and off_t (Y2038, Go's zero time, files over 2 GB). Debian 12's
# armhf libraries keep 32-bit time_t, but none of the APIs edgek calls passes a time_t or an
# off_t (zlib maps its calls to the *64 variants itself).
CROSS_CFLAGS_armhf := -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
CROSS_CFLAGS := -isystem $(DEPS_ROOT)/usr/include -isystem $(DEPS_ROOT)/usr/include/$(TRIPLET) \
	$(CROSS_CFLAGS_$(ARCH))
CROSS_LDFLAGS := -L$(DEPS_LIB) -Wl,-rpath-link,$(DEPS_LIB)
# Only the target's .pc files: the build machine's would hand out its own paths.
PKG_CONFIG := PKG_CONFIG_LIBDIR=$(DEPS_LIB)/pkgconfig:/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig \
	pkg-config
REL_OUT := edgek-release-$(ARCH)
DEV_OUT := $(B)/edgek
# Target binaries run under qemu-user with the cross toolchain's dynamic loader (-L) and, first
# on the guest's library path, that toolchain's own libc: the loader must not pick up the
# multiarch libc6:ARCH, whose different build hangs forked children. Then the unpacked
# libraries, if any. binfmt_misc is not relied on. LeakSanitizer cannot work under qemu-user
# (it stops the process' threads the way a debugger does), so leaks are checked by the native
# `make unit`; addresses and undefined behaviour are checked here too. Tests that qemu-user
# cannot run (no nftables netlink, no openat2, re-executing the binary, tight timing) skip with
# that reason when EK_TEST_EMULATOR is set.
EMULATOR := $(QEMU_$(ARCH)) -L /usr/$(TRIPLET) -E LD_LIBRARY_PATH=/usr/$(TRIPLET)/lib:$(DEPS_LIB)
UNIT_ENV := EK_TEST_EMULATOR=$(QEMU_$(ARCH)) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
endif
UNIT_ENV ?= ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

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
# pkg-config runs once, when a recipe first needs it: on a fresh machine `deps` has to
# install it and the -dev packages before it can answer.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKG_LIBS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LDLIBS = $(eval PKG_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKG_LIBS) 2>/dev/null))$(PKG_LDLIBS)
BASE_CFLAGS = -std=gnu11 -D_GNU_SOURCE -I. $(WARN) -fstack-protector-strong \
	-DEK_VERSION='"$(VERSION)"' -DEK_GIT_COMMIT='"$(GIT_COMMIT)"' $(CROSS_CFLAGS) $(PKG_CFLAGS)
LIBS = $(CROSS_LDFLAGS) $(PKG_LDLIBS) -lmbedtls -lmbedx509 -lmbedcrypto -lhttp_parser -lpthread -lm

DEV_CFLAGS = $(BASE_CFLAGS) -O2 -g -D_FORTIFY_SOURCE=2 -MMD -MP
ASAN_CFLAGS = $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -DEK_SANITIZE=1 -MMD -MP
FUZZ_CFLAGS = $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -DEK_FUZZ=1 \
	-fsanitize=address,undefined,fuzzer-no-link -MMD -MP
REL_CFLAGS = $(BASE_CFLAGS) -Os -DNDEBUG -D_FORTIFY_SOURCE=2 -ffunction-sections \
	-fdata-sections -MMD -MP

# Release: every library Debian ships as a static archive is linked statically; libc and
# libmnl (no libmnl.a in Debian) stay dynamic.
STATIC_LIBS := -luv_a -lsqlite3 -ljansson -lyaml -lnftnl -lzstd -lz -lmbedtls -lmbedx509 \
	-lmbedcrypto -lhttp_parser
REL_LIBS := $(CROSS_LDFLAGS) -Wl,-Bstatic $(STATIC_LIBS) -Wl,-Bdynamic -lmnl -lpthread -ldl -lm

DEV_OBJS := $(patsubst %.c,$(B)/dev/%.o,$(PART_SRCS) $(CMD_SRCS))
ASAN_OBJS := $(patsubst %.c,$(B)/asan/%.o,$(PART_SRCS) $(UNIT_SRCS))
REL_OBJS := $(patsubst %.c,$(B)/release/%.o,$(PART_SRCS) $(CMD_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,$(PART_SRCS))

.PHONY: all deps run check check-arm64 check-armhf run-version unit e2e release format format-check lint \
	fuzz help clean bench-% FORCE

## all: dev build of ./edgek (dynamic, -O2 -g, warnings are errors; ARCH=arm64: build/arm64/edgek)
all: deps $(DEV_OUT)

## deps: install the Debian packages that are missing (as root; a no-op when all are there)
deps:
	@scripts/deps.sh $(ARCH)

# lib/version.c carries the commit: rebuilt when HEAD moves (the stamp changes only then).
$(B)/commit: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(GIT_COMMIT)" ] || echo "$(GIT_COMMIT)" > $@
$(B)/dev/lib/version.o $(B)/asan/lib/version.o $(B)/release/lib/version.o: $(B)/commit

build/gen/schema_data.c: $(SCHEMA_FILES) scripts/embed.sh
	@mkdir -p $(dir $@)
	$(Q)scripts/embed.sh ek__schema_text $(SCHEMA_FILES) > $@

$(DEV_OUT): $(DEV_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(LIBS)

$(B)/dev/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [$(if $(CROSS),$(ARCH) )dev] $<")
	$(Q)$(CC) $(DEV_CFLAGS) -c -o $@ $<

$(B)/asan/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [$(if $(CROSS),$(ARCH) )asan] $<")
	$(Q)$(CC) $(ASAN_CFLAGS) -c -o $@ $<

$(B)/release/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [$(if $(CROSS),$(ARCH) )release] $<")
	$(Q)$(CC) $(REL_CFLAGS) -c -o $@ $<

$(B)/fuzz/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [fuzz] $<")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

$(B)/asan/unit: $(ASAN_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -fsanitize=address,undefined -o $@ $^ $(LIBS)

## run: build and start a single-node cluster in the foreground
run: all
	@scripts/run.sh

## check: the whole test suite (unit tests under ASan+UBSan, then e2e)
check: deps unit e2e

## unit: unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (TESTS=pattern)
unit: $(B)/asan/unit
	$(UNIT_ENV) UBSAN_OPTIONS=print_stacktrace=1 $(EMULATOR) $(B)/asan/unit -j $(JOBS) $(TESTS)

## check-arm64, check-armhf: the cross build's unit tests and `edgek version` under qemu-user
check-arm64 check-armhf: check-%:
	@$(MAKE) --no-print-directory ARCH=$* unit
	@$(MAKE) --no-print-directory ARCH=$* release
	@$(MAKE) --no-print-directory ARCH=$* run-version
	@grep -q '^platform linux/$(UNAME_$*)$$' build/$*/version.out || \
		{ echo "check-$*: edgek version did not run as $(UNAME_$*)" >&2; exit 1; }

run-version:
	set -o pipefail; $(EMULATOR) ./$(REL_OUT) version | tee $(B)/version.out

## e2e: end-to-end tests driving real kubectl against real edgek (E2E=pattern)
e2e: all
	@tests/e2e/run.sh $(E2E)

## release: optimized, stripped binary, statically linked except libc and libmnl
## release ARCH=arm64|armhf: the same, cross-built as ./edgek-release-ARCH
release: deps $(REL_OUT)
	@stat -c %s $(REL_OUT) | awk '{ printf "$(REL_OUT) (linux/$(ARCH)): %d bytes (%.2f MB)\n", \
		$$1, $$1 / 1048576 }'

$(REL_OUT): $(REL_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -Wl,--gc-sections -Wl,-O1 -o $@ $^ $(REL_LIBS)
	$(Q)$(STRIP) --strip-all $@

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

build/fuzz/fuzz_%: $(B)/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CLANG) -fsanitize=address,undefined,fuzzer -o $@ $^ $(LIBS)

## bench-NAME: run tests/bench/NAME (prints the peer measured in the same run and the ratio)
bench-%: all
	@tests/bench/$*/run.sh

# A benchmark's C program, tests/bench/NAME/bench_NAME.c, linked with the dev build's parts
# (second expansion: the stem appears twice in the source's name).
BENCH_LIB_OBJS := $(patsubst %.c,$(B)/dev/%.o,$(PART_SRCS))
.SECONDEXPANSION:
build/bench/%: tests/bench/$$*/bench_$$*.c $(BENCH_LIB_OBJS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(DEV_CFLAGS) -o $@ $< $(BENCH_LIB_OBJS) $(LIBS)

## clean: remove build outputs
clean:
	rm -rf build edgek edgek-release edgek-release-*

help:
	@grep -E '^## ' Makefile | sed 's/^## /  /'

-include $(shell find $(B) build/bench -name '*.d' 2>/dev/null)
