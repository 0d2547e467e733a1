# libFuzzer targets for the peekers (included by the Makefile).
#   make fuzz         every target for FUZZ_SECS (default 300) seconds, side
#                     by side (tests/fuzz/run.sh)
#   make fuzz-quick   the same for FUZZ_QUICK_SECS (default 30): CI
# tests/fuzz/run.sh seeds each run from tests/fuzz/corpus/NAME/ without
# writing into it, prints one line per target and fails on a crash.
FUZZ_TARGETS    := http tls
FUZZ_TARGETS    += $(if $(wildcard userspace/dmodel.c),dmodel)
FUZZ_SRCS       := userspace/peek_http.c userspace/peek_tls.c userspace/hostmap.c
FUZZ_CFLAGS     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_SECS       ?= 300
FUZZ_QUICK_SECS ?= 30
FUZZ_BINS       := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: fuzz fuzz-quick fuzz-build

$(BUILD)/fuzz:
	mkdir -p $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(FUZZ_SRCS:.c=.h) | $(BUILD)/fuzz
	$(CLANG) $(CPPFLAGS) $(XLB_CFLAGS) $(FUZZ_CFLAGS) $< $(FUZZ_SRCS) -o $@

# The Docker JSON reader links its own modules and libraries.
FUZZ_DMODEL_SRCS := $(foreach m,dmodel config addr hostmap log health loop,userspace/$(m).c)

$(BUILD)/fuzz/fuzz_dmodel: tests/fuzz/fuzz_dmodel.c $(FUZZ_DMODEL_SRCS) $(wildcard userspace/*.h) | $(BUILD)/fuzz
	$(CLANG) $(CPPFLAGS) $(XLB_CFLAGS) $(FUZZ_CFLAGS) $< $(FUZZ_DMODEL_SRCS) -o $@ \
	  -ljansson -linih -lbpf

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SECS) $(FUZZ_BINS)

fuzz-quick: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_QUICK_SECS) $(FUZZ_BINS)
