# xlb: one Makefile. The top is lists; the rules below are generic.

BPF_PROGS     := xlb
COMMON_SRCS   := log addr pins
# modules still being written join when their file exists
XLB_OPTIONAL  := $(foreach m,docker dmodel health,$(if $(wildcard userspace/$(m).c),$(m)))
XLBD_SRCS     := xlbd config maglev netlink attach control state hostmap loop proxy peek_http peek_tls metrics takeover caps \
                 $(XLB_OPTIONAL) $(COMMON_SRCS)
XLBCTL_SRCS   := xlbctl xlbctl_tables xlbctl_stats xlbctl_control xlbctl_trace xlbctl_status \
                 table attach netlink config health loop $(COMMON_SRCS)
# unit test name -> the modules it links against
UNIT_TESTS    := maglev config addr $(if $(wildcard tests/unit/test_peek_http.c),peek_http) \
                 $(if $(wildcard tests/unit/test_peek_tls.c),peek_tls) \
                 $(if $(wildcard tests/unit/test_hostmap.c),hostmap) \
                 $(if $(wildcard tests/unit/test_dmodel.c),dmodel) \
                 $(if $(wildcard tests/unit/test_health.c),health) \
                 $(if $(wildcard tests/unit/test_metrics.c),metrics)
unit_maglev_deps := maglev log
unit_config_deps := config addr log health loop
unit_addr_deps   := addr
unit_peek_http_deps := peek_http hostmap
unit_peek_tls_deps  := peek_tls hostmap
unit_hostmap_deps   := hostmap
unit_dmodel_deps    := dmodel config addr hostmap log health loop
unit_health_deps    := health addr log loop
unit_metrics_deps   := metrics addr log loop

# Tests, demo and bench run Debian's tools, the ones scripts/deps.sh
# installs, ahead of any other on PATH: a pyenv shim's python3 costs
# 0.4 s a start, and the tests start python some thousand times.
export PATH := /usr/sbin:/usr/bin:/sbin:/bin:$(PATH)

BUILD   ?= build
ARCH    := $(shell uname -m | sed 's/aarch64/arm64/;s/x86_64/x86/')
MULTI   := $(shell gcc -print-multiarch 2>/dev/null)
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
PREFIX  ?= /usr/local

CFLAGS   ?= -O2 -g
# always applied, also when CFLAGS comes from the command line (make asan)
XLB_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE
CPPFLAGS += -Iinclude -I$(BUILD) -Iuserspace
# xlb_build_info's version label: the commit, or "dev" outside a git tree
XLB_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
CPPFLAGS += -DXLB_VERSION='"$(XLB_VERSION)"'
LDLIBS   += -lbpf -lelf -lz -lmnl -linih -ljansson -lcurl -lmicrohttpd -lcap
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
              -Iinclude -I/usr/include/$(MULTI)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.SECONDARY:
.PHONY: all asan test test-unit test-bpf test-bats demo bench bench-quick clean install fuzz deps
all: $(BUILD)/xlbd $(BUILD)/xlbctl

deps:
	scripts/deps.sh

# --- BPF: object -> skeleton ---------------------------------------------
$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/xlb/*.h) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

SKELS := $(BPF_PROGS:%=$(BUILD)/%.skel.h)

# --- userspace -------------------------------------------------------------
$(BUILD)/obj/%.o: userspace/%.c $(wildcard userspace/*.h include/xlb/*.h) $(SKELS) | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(XLB_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/xlbd: $(XLBD_SRCS:%=$(BUILD)/obj/%.o)
	$(CC) $(XLB_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/xlbctl: $(XLBCTL_SRCS:%=$(BUILD)/obj/%.o)
	$(CC) $(XLB_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD) $(BUILD)/obj $(BUILD)/unit:
	mkdir -p $@

# Sanitizer build of the whole tree beside $(BUILD): build-asan/ for the
# default build, so that several build dirs each get their own.
ASAN_BUILD ?= $(BUILD)-asan
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" all

# --- tests -----------------------------------------------------------------
# Unit tests always build with ASan+UBSan.
$(BUILD)/unit/test_%: tests/unit/test_%.c $(wildcard userspace/*.c userspace/*.h include/xlb/*.h) | $(BUILD)/unit
	$(CC) $(CPPFLAGS) $(XLB_CFLAGS) -O1 -g $(SAN_FLAGS) \
	  $< $(foreach m,$(unit_$*_deps),userspace/$(m).c) -o $@ -lcmocka $(LDLIBS)

test-unit: $(UNIT_TESTS:%=$(BUILD)/unit/test_%)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

$(BUILD)/bpf_test: tests/bpf/bpf_test.c $(SKELS) $(wildcard tests/bpf/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) -Itests/bpf $(XLB_CFLAGS) $(CFLAGS) $< -o $@ $(LDLIBS)

test-bpf: $(BUILD)/bpf_test
	tests/bpf/run.sh $(BUILD)/bpf_test

# issue 6's XDP fuzz loop: a bounded run in `make test`, the long one here
$(BUILD)/xdp_fuzz: tests/bpf/xdp_fuzz.c $(SKELS) $(wildcard tests/bpf/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) -Itests/bpf $(XLB_CFLAGS) $(CFLAGS) $< -o $@ $(LDLIBS)

.PHONY: fuzz-xdp
fuzz-xdp: $(BUILD)/xdp_fuzz
	tests/bpf/run.sh $(BUILD)/xdp_fuzz --iterations 1000000

test-bats: all
	bats --print-output-on-failure tests/bats

# One driver runs every suite and ends with "test: N passed, M failed".
# The integration suite runs twice: with the normal build, and with xlbd and
# xlbctl built with ASan+UBSan (a leak or a memory error fails the run).
test: all asan $(UNIT_TESTS:%=$(BUILD)/unit/test_%) $(BUILD)/bpf_test $(BUILD)/xdp_fuzz fuzz-build
	ASAN_BUILD=$(ASAN_BUILD) tests/run.sh $(BUILD)

# The netns lab (XDP and the proxy), then the compose stack of the mission.
demo: all
	scripts/demo.sh
	scripts/demo-compose.sh

# issue 5's measurements and report (bench/results/); root, a quiet machine.
bench: all
	scripts/bench.sh

bench-quick: all
	scripts/bench.sh --quick

# issue 6's soak: 10 minutes of L4 and Host load with scaling events every
# 30 s; root, the netns lab (tests/bats/soak.bats runs 60 s of it in CI)
.PHONY: soak
soak: all
	BUILD=$(abspath $(BUILD)) scripts/soak.sh 600

install: all
	install -D -m 0755 $(BUILD)/xlbd $(DESTDIR)$(PREFIX)/sbin/xlbd
	install -D -m 0755 $(BUILD)/xlbctl $(DESTDIR)$(PREFIX)/sbin/xlbctl

# libFuzzer targets (tests/fuzz/fuzz.mk): make fuzz, make fuzz-quick
-include tests/fuzz/fuzz.mk

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# --- bench: control/memory (helper cb) --------------------------------------
# Small programs behind tests/bench/control.sh and memory.sh. Optimised, no
# sanitizers: they time things.
CB_BENCH_PROGS := $(BUILD)/bench/maglev_bench $(BUILD)/bench/flowtab
.PHONY: bench-cb-progs
bench-cb-progs: $(CB_BENCH_PROGS)

$(BUILD)/bench/maglev_bench: tests/bench/maglev_bench.c userspace/maglev.c userspace/maglev.h include/xlb/consts.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XLB_CFLAGS) -O2 -g $< userspace/maglev.c -o $@ -lbpf

$(BUILD)/bench/flowtab: tests/bench/flowtab.c include/xlb/maps.h include/xlb/consts.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XLB_CFLAGS) -O2 -g $< -o $@ -lbpf

# --- bench: xdp_cost (helper xb) ---------------------------------------------
# Per-packet cost of the data path under BPF_PROG_TEST_RUN (tests/bench/
# xdp_cost.sh). bench.bpf.c holds the wrappers and baselines; it uses the
# data path's own parser, so it rebuilds when bpf/ changes.
$(BUILD)/bench.bpf.o: tests/bench/bench.bpf.c tests/bench/xdp_cost.h $(wildcard bpf/*.h include/xlb/*.h) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -Ibpf -Itests/bench -c $< -o $@

$(BUILD)/xdp_cost: tests/bench/xdp_cost.c tests/bench/xdp_cost.h $(BUILD)/bench.skel.h $(SKELS) \
		   $(wildcard tests/bpf/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) -Itests/bpf -Itests/bench $(XLB_CFLAGS) $(CFLAGS) $< -o $@ $(LDLIBS)
