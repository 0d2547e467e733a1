# xlb: one Makefile. The top is lists; the rules below are generic.
#
# userspace/ has a folder per program and one for what they share. Each
# folder's sources (but main.c) make one archive; a program links its main
# and the archives it names, users before what they use, and the linker
# takes only the objects that are needed. So no list of sources is kept
# here: a new file joins its folder's archive.
#   lib/     shared by every program and test; includes nothing above it
#   xlbd/    the daemon: its main and its modules
#   proxy/   the daemon's HTTP/TLS proxy (routes through xlbd/state)
#   tls/     certificates: the store picked from by SNI, its sources
#   acme/    the ACME client (RFC 8555) that gets and renews certificates
#   xlbctl/  the command-line tool

BPF_PROGS     := xlb sock_lb
PROGS         := xlbd xlbctl
xlbd_LINKS    := proxy acme tls xlbd lib
xlbctl_LINKS  := xlbctl lib
# unit tests (tests/unit/test_*.c) and fuzzers (tests/fuzz/fuzz_*.c) link
# these; each test names no modules of its own
TEST_LINKS    := proxy acme tls xlbd lib
UNIT_TESTS    := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
BENCH_PROGS   := maglev_bench flowtab
DIRS          := $(notdir $(wildcard userspace/*))

# Tests, demo and bench run Debian's tools, the ones scripts/deps.sh
# installs, ahead of any other on PATH: a pyenv shim's python3 costs
# 0.4 s a start, and the tests start python some thousand times.
export PATH := /usr/sbin:/usr/bin:/sbin:/bin:$(PATH)

BUILD      ?= build
ASAN_BUILD ?= $(BUILD)-asan
FUZZ_BUILD ?= $(BUILD)-fuzz
ARCH    := $(shell uname -m | sed 's/aarch64/arm64/;s/x86_64/x86/')
MULTI   := $(shell gcc -print-multiarch 2>/dev/null)
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
AR      ?= ar
PREFIX  ?= /usr/local

# The release build is hardened as Debian's packages are, and more: a
# stack protector, FORTIFY's level 3 checks, a position-independent
# executable with read-only relocations bound at start. The sanitizer and
# fuzzer builds set CFLAGS and LDFLAGS themselves and leave these out
# (FORTIFY's wrappers would hide accesses from ASan).
HARDEN_CFLAGS  := -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now
CFLAGS   ?= -O2 -g $(HARDEN_CFLAGS)
LDFLAGS  ?= $(HARDEN_LDFLAGS)
# always applied, also when CFLAGS comes from the command line (make asan)
XLB_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP
CPPFLAGS += -Iinclude -Iuserspace -I$(BUILD)
# xlb_build_info's version label: the commit, or "dev" outside a git tree
XLB_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
CPPFLAGS += -DXLB_VERSION='"$(XLB_VERSION)"'
LDLIBS   += -lbpf -lelf -lz -lmnl -linih -ljansson -lcurl -lmicrohttpd -lcap -lssl -lcrypto -lseccomp -lpcre2-8 -lyaml
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -MMD -MP \
              -Iinclude -I/usr/include/$(MULTI)

SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_SECS       ?= 300
FUZZ_QUICK_SECS ?= 30

# A program compiled and linked in one step keeps its dependencies beside
# it as a hidden file, so that globs over test_* or fuzz_* see programs only.
DEPFILE = -MF $(@D)/.$(@F).d

# make V=1 shows every command
ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all asan deps test test-unit test-bpf test-bats demo bench bench-quick \
        bench-progs soak fuzz fuzz-quick fuzz-build fuzz-targets fuzz-xdp \
        unit-tests install clean

all: $(PROGS:%=$(BUILD)/%)

deps:
	scripts/deps.sh

# --- BPF: object -> skeleton ---------------------------------------------
SKELS := $(BPF_PROGS:%=$(BUILD)/%.skel.h)

$(BUILD)/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(call say,BPF,$@)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call say,SKEL,$@)$(BPFTOOL) gen skeleton $< name $* > $@

# --- userspace: objects -> folder archives -> programs -------------------
$(BUILD)/obj/%.o: userspace/%.c
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(CFLAGS) -c $< -o $@

# only xlbd's main and its socket hooks open BPF objects through skeletons
$(BUILD)/obj/xlbd/main.o $(BUILD)/obj/xlbd/sock_lb.o: | $(SKELS)

define folder_archive
$(BUILD)/ar/$(1).a: $(patsubst userspace/%.c,$(BUILD)/obj/%.o,\
                      $(filter-out %/main.c,$(wildcard userspace/$(1)/*.c)))
endef
$(foreach d,$(DIRS),$(eval $(call folder_archive,$(d))))

$(BUILD)/ar/%.a:
	@mkdir -p $(@D)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

archives = $(foreach a,$(1),$(BUILD)/ar/$(a).a)

define program
$(BUILD)/$(1): $(BUILD)/obj/$(1)/main.o $(call archives,$($(1)_LINKS))
	$$(call say,LD,$$@)$$(CC) $$(XLB_CFLAGS) $$(CFLAGS) $$(LDFLAGS) $$^ -o $$@ $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call program,$(p))))

# The sanitizer build of the whole tree beside $(BUILD) (build-asan/ for
# the default build, so that several build dirs each get their own): the
# programs, and the unit tests, which only ever run with ASan+UBSan.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="-O1 -g $(SAN_FLAGS)" \
	  LDFLAGS="$(SAN_FLAGS)" all unit-tests

# The unit runs xlbd --user xlb: the system user is made when missing (not
# into a DESTDIR staging tree, whose package makes its own), and the unit's
# ExecStart names the binary where PREFIX put it.
UNIT_DIR ?= /etc/systemd/system
XLB_USER ?= xlb

install: all
	install -D -m 0755 $(BUILD)/xlbd $(DESTDIR)$(PREFIX)/sbin/xlbd
	install -D -m 0755 $(BUILD)/xlbctl $(DESTDIR)$(PREFIX)/sbin/xlbctl
	install -d $(DESTDIR)$(UNIT_DIR)
	sed 's|/usr/local/sbin/xlbd|$(PREFIX)/sbin/xlbd|; s|--user xlb$$|--user $(XLB_USER)|' \
	  scripts/systemd/xlbd.service >$(DESTDIR)$(UNIT_DIR)/xlbd.service
	chmod 0644 $(DESTDIR)$(UNIT_DIR)/xlbd.service
	$(if $(DESTDIR),,getent passwd $(XLB_USER) >/dev/null || \
	  adduser --system --group --no-create-home --home /nonexistent $(XLB_USER))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# --- tests -----------------------------------------------------------------
$(BUILD)/unit/%: tests/unit/%.c $(call archives,$(TEST_LINKS))
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(DEPFILE) $(CFLAGS) $(LDFLAGS) \
	  $< $(call archives,$(TEST_LINKS)) -o $@ -lcmocka $(LDLIBS)

unit-tests: $(UNIT_TESTS:%=$(BUILD)/unit/%)

test-unit: asan
	@set -e; for t in $(UNIT_TESTS:%=$(ASAN_BUILD)/unit/%); do echo "== $$t"; $$t; done

# BPF packet tests and the XDP fuzz loop: programs of their own around the
# skeleton
$(BUILD)/bpf_test $(BUILD)/xdp_fuzz: $(BUILD)/%: tests/bpf/%.c | $(SKELS)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) -Itests/bpf $(XLB_CFLAGS) $(DEPFILE) $(CFLAGS) $< -o $@ $(LDLIBS)

# The ACME client's end-to-end driver against Pebble (tests/acme/pebble.sh)
$(BUILD)/acme_probe: tests/acme/acme_probe.c $(call archives,$(TEST_LINKS))
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(DEPFILE) $(CFLAGS) $(LDFLAGS) \
	  $< $(call archives,$(TEST_LINKS)) -o $@ $(LDLIBS) -lpthread

# The seccomp filter's live check: xlbd's own filter in a program that then
# calls what it forbids (tests/bats/privilege.bats)
$(BUILD)/seccomp_probe: tests/seccomp/seccomp_probe.c $(call archives,$(TEST_LINKS))
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(DEPFILE) $(CFLAGS) $(LDFLAGS) \
	  $< $(call archives,$(TEST_LINKS)) -o $@ $(LDLIBS)

test-bpf: $(BUILD)/bpf_test
	tests/bpf/run.sh $(BUILD)/bpf_test

# a bounded run is part of `make test`; this is the long one
fuzz-xdp: $(BUILD)/xdp_fuzz
	tests/bpf/run.sh $(BUILD)/xdp_fuzz --iterations 1000000

test-bats: all $(BUILD)/acme_probe $(BUILD)/seccomp_probe
	bats --print-output-on-failure tests/bats

# One driver runs every suite and ends with "test: N passed, M failed".
# The integration suite runs twice: with the normal build, and with xlbd and
# xlbctl built with ASan+UBSan (a leak or a memory error fails the run).
test: all asan $(BUILD)/bpf_test $(BUILD)/xdp_fuzz $(BUILD)/acme_probe $(BUILD)/seccomp_probe \
      fuzz-build
	ASAN_BUILD=$(ASAN_BUILD) FUZZ_BUILD=$(FUZZ_BUILD) tests/run.sh $(BUILD)

# --- libFuzzer targets -----------------------------------------------------
# Built in a tree of their own: every archive compiled by clang with
# coverage for the fuzzer, and ASan+UBSan. tests/fuzz/run.sh seeds each run
# from tests/fuzz/corpus/NAME/ without writing into it, prints one line per
# target and fails on a crash.
#   make fuzz         every target for FUZZ_SECS seconds, side by side
#   make fuzz-quick   the same for FUZZ_QUICK_SECS: CI
fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(CLANG) \
	  CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" fuzz-targets

fuzz-targets: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(call archives,$(TEST_LINKS))
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(DEPFILE) $(FUZZ_FLAGS) -fsanitize=fuzzer \
	  $< $(call archives,$(TEST_LINKS)) -o $@ $(LDLIBS)

fuzz fuzz-quick: fuzz-build
	tests/fuzz/run.sh $(if $(filter fuzz,$@),$(FUZZ_SECS),$(FUZZ_QUICK_SECS)) \
	  $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%)

# --- demo, soak, bench -----------------------------------------------------
# The netns lab (XDP and the proxy), then the compose stack.
demo: all
	scripts/demo.sh
	scripts/demo-compose.sh

# 10 minutes of L4 and Host load with scaling events every 30 s; root, the
# netns lab (tests/bats/soak.bats runs 60 s of it in CI)
soak: all
	BUILD=$(abspath $(BUILD)) scripts/soak.sh 600

# Measurements and report (bench/results/); root, a quiet machine.
bench: all
	bench/bench.sh

bench-quick: all
	bench/bench.sh --quick

# Small programs behind bench/control.sh and memory.sh: optimised, no
# sanitizers, since they time things.
bench-progs: $(BENCH_PROGS:%=$(BUILD)/bench/%)

$(BUILD)/bench/%: bench/%.c $(call archives,$(TEST_LINKS))
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(DEPFILE) -O2 -g $< \
	  $(call archives,$(TEST_LINKS)) -o $@ $(LDLIBS)

# Per-packet cost of the data path under BPF_PROG_TEST_RUN (bench/
# xdp_cost.sh). bench.bpf.c holds the wrappers and baselines; it uses the
# data path's own parser, so it rebuilds when bpf/ changes.
$(BUILD)/bench.bpf.o: bench/bench.bpf.c
	@mkdir -p $(@D)
	$(call say,BPF,$@)$(CLANG) $(BPF_CFLAGS) -Ibpf -Ibench -c $< -o $@

$(BUILD)/xdp_cost: bench/xdp_cost.c $(BUILD)/bench.skel.h | $(SKELS)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) -Itests/bpf -Ibench $(XLB_CFLAGS) $(DEPFILE) $(CFLAGS) $< -o $@ $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
