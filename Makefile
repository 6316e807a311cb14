# strata: build, test, demo, bench, fuzz, install.
#   make            build libstrata, stratad, strata and the tests
#   make test       unit + simulation + integration suites, then unit + simulation under ASan/UBSan
#                   (simulations from a fresh seed base each run; SIM_BASE=B replays a run's seeds)
#   make demo       start a 5-node cluster, kill a node, watch it being detected
#   make bench      benchmarks (results in build/bench/)
#   make soak       long seed sweeps: every simulation suite, 10x its seeds (SOAK_MINUTES=M: M min)
#   make soak-asan  every simulation suite's full seed counts under ASan/UBSan
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (needs clang)
#   make fuzz-long  every fuzz target with its seed corpus until FUZZ_LONG_RUNS executions each
#                   (or FUZZ_LONG_CAP seconds)
#   make fuzz-speed fuzz_datagram and fuzz_module, without sanitizers: executions per second of
#                   three FUZZ_SPEED_RUNS-execution runs each from the committed seeds
#   make asan       build and run unit + simulation suites with ASan and UBSan
#   make check-valgrind  unit tests and the first seed of every simulation case under valgrind
#                   (memcheck: uninitialised reads, invalid accesses, leaks); not in `make test`
#   make check-sha256-broken  test_sha256 against four broken SHA-256 variants: each must fail
#   make check-bundle-broken  test_client_bundle against two broken bundle variants: each must fail
#   make check-resp-cork-broken  test_resp.sh against a stratad whose RESP port is not corked: must fail
#   make check-disk-full-broken  test_kv_disk_full.sh against a stratad that closes unanswered on a storage failure: must fail
#   make bench-sha256  ns per SHA-256 / HMAC-SHA256: libsodium, portable, SHA extensions
#   make install    PREFIX=/usr/local
# Missing Debian packages are installed by scripts/setup on first use.

CC ?= cc
PREFIX ?= /usr/local
BUILD ?= build
FUZZ_SECONDS ?= 20
FUZZ_LONG_RUNS ?= 10000000
FUZZ_LONG_CAP ?= 3600
FUZZ_SPEED_RUNS ?= 500000
# Sanitized simulation runs are ~3x slower: at most 50 seeds per case (a case's own count when
# it is smaller; broken variants keep theirs) keep `make test` within CI's budget. The same seeds
# ran unsanitized just before; `make soak-asan` runs every case's full count under ASan/UBSan.
ASAN_SIM_ARGS ?= --max-seeds 50
# Simulation suites are CPU-bound and deterministic: SIM_JOBS of them run at a time (integration
# tests have timing assertions and stay one at a time). BUILD_JOBS compiles the asan/fuzz trees.
SIM_JOBS ?= 2
BUILD_JOBS ?= 2
# Unit tests are CPU-bound, use no clock and make their own temporary directories: UNIT_JOBS run at
# a time. The fuzz smoke run in `make test` runs FUZZ_JOBS targets at a time (each still gets its
# FUZZ_SECONDS); `make fuzz` alone runs one at a time.
UNIT_JOBS ?= 2
FUZZ_JOBS ?= 1
PKGS := libuv libsodium libprotobuf-c check lmdb inih hiredis

ifeq ($(filter clean help,$(MAKECMDGOALS)),)
ifneq ($(shell scripts/setup --check >/dev/null 2>&1 && echo ok),ok)
$(info make: installing missing dependencies with scripts/setup)
ifneq ($(shell scripts/setup >&2; echo $$?),0)
$(error scripts/setup failed: install the packages it names and retry)
endif
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Wno-unused-parameter \
	-Werror
OPT ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -fno-omit-frame-pointer -Isrc -I$(BUILD)/gen $(PKG_CFLAGS)
CFLAGS_ALL = $(BASE_CFLAGS) $(WARN) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -lpthread $(EXTRA_LDFLAGS)

PROTOS := $(wildcard proto/*.proto)
GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)
LIB_SRC := $(shell find src -name '*.c' | sort)
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
LIB := $(BUILD)/libstrata.a

DAEMON_SRC := $(wildcard daemon/*.c)
CLIENT_SRC := $(wildcard client/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SIM_SRC := $(wildcard tests/sim/sim_*.c)
SIMLIB_SRC := $(wildcard tests/sim/lib/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)

UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SIM_BIN := $(patsubst tests/sim/%.c,$(BUILD)/tests/%,$(SIM_SRC))
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
SIMLIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(SIMLIB_SRC))

# Keep generated sources and objects (make would otherwise delete them as intermediates and
# rebuild everything next time); remove a target whose recipe failed.
.SECONDARY:
.DELETE_ON_ERROR:

.PHONY: all test unit sim soak soak-asan integration asan check-valgrind test-bins fuzz fuzz-smoke fuzz-long fuzz-speed demo bench bench-stack bench-kv-tob bench-kv-c1 bench-bft bench-encrypt bench-sha256 check-sha256-broken check-bundle-broken check-resp-cork-broken check-disk-full-broken install man clean help
all: $(BUILD)/stratad $(BUILD)/strata $(UNIT_BIN) $(SIM_BIN) $(BENCH_BIN)

help:
	@sed -n '2,20p' Makefile

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

# Generated code is not ours to keep -Wconversion-clean.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(EXTRA_CFLAGS) -w -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/stratad: $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRC)) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/strata: $(patsubst %.c,$(BUILD)/obj/%.o,$(CLIENT_SRC)) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/sim_%: $(BUILD)/obj/tests/sim/sim_%.o $(SIMLIB_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# ---- tests ----
unit: $(UNIT_BIN)
	@scripts/run-tests -j $(UNIT_JOBS) unit $(UNIT_BIN)

# SIM_ARGS: extra flags for every simulation suite, e.g. SIM_ARGS="--seeds 50 --base 1000".
# Every run replays tests/sim/regressions/<suite>.txt first (docs/simulator.md).
SIM_REGRESSIONS := $(CURDIR)/tests/sim/regressions
# SIM_BASE=B: every suite starts at seed B (default 1; `make test` draws one per run).
sim: $(SIM_BIN)
	@STRATA_SIM_REGRESSIONS=$(SIM_REGRESSIONS) $(if $(SIM_BASE),STRATA_SIM_BASE=$(SIM_BASE)) \
		scripts/run-tests -j $(SIM_JOBS) sim $(SIM_BIN) $(if $(SIM_ARGS),-- $(SIM_ARGS))

# Long sweeps outside `make test` (scripts/soak, docs/simulator.md): SOAK_SCALE (10) times each
# case's seeds from SOAK_BASE (drawn at random when empty), or SOAK_SEEDS per case, or for
# SOAK_MINUTES minutes; summary in build/test-logs/soak-summary.txt.
SOAK_SCALE ?= 10
soak: $(SIM_BIN)
	@SIM_JOBS=$(SIM_JOBS) SOAK_SCALE=$(SOAK_SCALE) SOAK_BASE=$(SOAK_BASE) SOAK_SEEDS=$(SOAK_SEEDS) \
		SOAK_MINUTES=$(SOAK_MINUTES) scripts/soak $(SIM_BIN)

# The same under ASan/UBSan: every case's full `make test` count (ASAN_SOAK_SCALE, default 1;
# `make test` caps the sanitized pass at 50 seeds per case); SOAK_BASE/SEEDS/MINUTES apply.
ASAN_SOAK_SCALE ?= 1
soak-asan:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) $(ASAN_VARS) test-bins
	@$(MAKE) --no-print-directory $(ASAN_VARS) SOAK_SCALE=$(ASAN_SOAK_SCALE) soak

integration: $(BUILD)/stratad $(BUILD)/strata $(BUILD)/tests/test_resp_inline
	@scripts/run-tests integration $(sort $(wildcard tests/integration/test_*.sh))

# Built with BUILD_JOBS compilers first, then run (unit serially, sim SIM_JOBS at a time).
ASAN_VARS = BUILD=$(BUILD)/asan OPT="-O1 -g" \
	EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	EXTRA_LDFLAGS="-fsanitize=address,undefined"
asan:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) $(ASAN_VARS) test-bins
	@$(MAKE) --no-print-directory $(ASAN_VARS) SIM_ARGS="$(ASAN_SIM_ARGS)" unit sim
test-bins: $(UNIT_BIN) $(SIM_BIN)

# Memory checks under valgrind memcheck (scripts/check-valgrind, docs/simulator.md "Memory
# checks"): every unit test (CK_FORK=no) and every simulation suite's correct cases from seed 1
# (VALGRIND_SEEDS per case, default 1; broken variants skipped) with --error-exitcode, the
# suites' regression seeds first, VALGRIND_JOBS programs at a time. Not part of `make test`: it
# takes far longer than 2 minutes on 2 cores. VALGRIND_ARGS="--origins" names where an
# uninitialised value came from.
VALGRIND_JOBS ?= 2
VALGRIND_SEEDS ?= 1
check-valgrind: $(UNIT_BIN) $(SIM_BIN)
	@scripts/check-valgrind -j $(VALGRIND_JOBS) --seeds $(VALGRIND_SEEDS) $(VALGRIND_ARGS) \
		$(UNIT_BIN) $(SIM_BIN)

# The SHA-256 checks can fail: test_sha256 is linked against src/crypto/sha256.c built with
# STRATA_SHA256_BROKEN=1..4 (a round constant or a message-schedule step wrong in the portable
# code, 1-2, or in the SHA-extension code, 3-4; sha256.c lists them). Each build must fail, its
# failures must name the broken backend and none the other. Not part of `make test` (~10 s of
# compiling); variants 3-4 are skipped with a note on a CPU without the SHA extensions.
check-sha256-broken: $(LIB)
	@mkdir -p $(BUILD)/sha256-broken
	@ok=1; for v in 1 2 3 4; do \
		bin=$(BUILD)/sha256-broken/test_sha256-$$v; log=$$bin.log; \
		case $$v in 1|2) bad=portable; good=sha-ni;; *) bad=sha-ni; good=portable;; esac; \
		$(CC) $(CFLAGS_ALL) -DSTRATA_SHA256_BROKEN=$$v -o $$bin tests/unit/test_sha256.c \
			src/crypto/sha256.c $(LIB) $(LDLIBS_ALL) || exit 1; \
		if [ $$bad = sha-ni ] && ! grep -qw sha_ni /proc/cpuinfo; then \
			echo "skip broken variant $$v: no SHA extensions on this CPU"; continue; fi; \
		if $$bin > $$log 2>&1; then echo "FAIL broken variant $$v ($$bad): test_sha256 passed"; ok=0; \
		elif ! grep -q ":F:.*: $$bad: " $$log; then echo "FAIL broken variant $$v: no $$bad failure ($$log)"; ok=0; \
		elif grep -q ":F:.*: $$good: " $$log; then echo "FAIL broken variant $$v: $$good failed too ($$log)"; ok=0; \
		else echo "ok   broken variant $$v ($$bad) caught: $$(grep -c ':F:' $$log) of $$(grep -o 'Checks: [0-9]*' $$log | cut -d' ' -f2) checks failed, e.g. $$(grep -m1 -o ':F:.*' $$log)"; fi; \
	done; [ $$ok = 1 ]

# The bundle checks can fail: test_client_bundle is linked against src/rt/uv/client_frame.c and
# src/rt/uv/client.c built with STRATA_CLIENT_BUNDLE_BROKEN=1 (a bundle cut short is accepted:
# its whole frames are handled, the rest ignored) or 2 (the node bundles replies toward a client
# that never sent a bundle). Each build must fail. Not part of `make test` (~10 s of compiling).
check-bundle-broken: $(LIB)
	@mkdir -p $(BUILD)/bundle-broken
	@ok=1; for v in 1 2; do \
		bin=$(BUILD)/bundle-broken/test_client_bundle-$$v; log=$$bin.log; \
		$(CC) $(CFLAGS_ALL) -DSTRATA_CLIENT_BUNDLE_BROKEN=$$v -o $$bin \
			tests/unit/test_client_bundle.c src/rt/uv/client_frame.c src/rt/uv/client.c \
			$(LIB) $(LDLIBS_ALL) || exit 1; \
		if $$bin > $$log 2>&1; then echo "FAIL broken variant $$v: test_client_bundle passed"; ok=0; \
		else echo "ok   broken variant $$v caught: $$(grep -m1 -o ':[FE]:.*' $$log)"; fi; \
	done; [ $$ok = 1 ]

# The RESP cork check can fail: tests/integration/test_resp.sh against a stratad whose
# src/rt/uv/runtime.c is built with STRATA_RESP_CORK_BROKEN=1 (the RESP port is not corked: each
# reply the KV releases toward a connection is its own write) must fail at its count of replies
# per socket write. Not part of `make test` (~45 s: a compile and the test up to that check).
check-resp-cork-broken: $(BUILD)/strata $(BUILD)/tests/test_resp_inline $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRC)) $(LIB)
	@mkdir -p $(BUILD)/resp-cork-broken
	@bin=$(BUILD)/resp-cork-broken/stratad; log=$(BUILD)/resp-cork-broken/test_resp.log; \
	$(CC) $(CFLAGS_ALL) -DSTRATA_RESP_CORK_BROKEN=1 -o $$bin src/rt/uv/runtime.c \
		$(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRC)) $(LIB) $(LDLIBS_ALL) || exit 1; \
	if STRATAD=$(abspath $$bin) tests/integration/test_resp.sh > $$log 2>&1; then \
		echo "FAIL broken variant (RESP not corked): test_resp passed"; exit 1; \
	elif ! grep -q "^FAIL: .*do not leave together" $$log; then \
		echo "FAIL broken variant (RESP not corked): test_resp failed elsewhere ($$log)"; exit 1; \
	else echo "ok   broken variant (RESP not corked) caught: $$(grep -m1 '^FAIL: ' $$log)"; fi

# The full-disk check of the clients' errors can fail: tests/integration/test_kv_disk_full.sh
# against a stratad whose src/rt/uv/runtime.c is built with STRATA_FATAL_ANSWER_BROKEN=1 (a node
# stopping on a storage failure closes at once, its requests unanswered) must fail at the
# writers' errors. Not part of `make test` (a compile and ~30 s; root and mount namespaces).
check-disk-full-broken: $(BUILD)/strata $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRC)) $(LIB)
	@mkdir -p $(BUILD)/disk-full-broken
	@bin=$(BUILD)/disk-full-broken/stratad; log=$(BUILD)/disk-full-broken/test_kv_disk_full.log; \
	$(CC) $(CFLAGS_ALL) -DSTRATA_FATAL_ANSWER_BROKEN=1 -o $$bin src/rt/uv/runtime.c \
		$(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRC)) $(LIB) $(LDLIBS_ALL) || exit 1; \
	if STRATAD=$(abspath $$bin) tests/integration/test_kv_disk_full.sh > $$log 2>&1; then \
		if grep -q "^SKIP" $$log; then cat $$log; exit 0; fi; \
		echo "FAIL broken variant (no answer on a storage failure): test_kv_disk_full passed"; exit 1; \
	elif ! grep -q "^FAIL: writer .*: unclear error\|^FAIL: no writer got" $$log; then \
		echo "FAIL broken variant (no answer on a storage failure): test_kv_disk_full failed elsewhere ($$log)"; exit 1; \
	else echo "ok   broken variant (no answer on a storage failure) caught: $$(grep -m1 '^FAIL: ' $$log | cut -c1-200)"; fi

# The smoke run in `make test`: 4 s per target, SIM_JOBS targets at a time.
fuzz-smoke:
	@if command -v clang >/dev/null; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=4 FUZZ_JOBS=$(SIM_JOBS); \
	else echo "fuzz: clang not found, skipping the fuzz smoke run"; fi

# Both fuzz trees keep secrets on the plain heap (wiped on free) instead of libsodium's guarded
# pages, whose mmap/mprotect/munmap per node dominated fuzz_recovery (src/crypto/crypto.c); every
# other build keeps guarded memory. They also MAC datagrams with a cheaper keyed MAC (SipHash)
# instead of HMAC-SHA256, computed and checked at the same places (crypto.c, docs/fuzzing.md).
FUZZ_DEFS = -DSTRATA_FUZZ_PLAIN_SECRETS -DSTRATA_FUZZ_FAST_MAC
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
fuzz:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) BUILD=$(BUILD)/fuzzobj CC=clang OPT="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined $(FUZZ_DEFS)" \
		EXTRA_LDFLAGS="-fsanitize=fuzzer,address,undefined" fuzz-bins
	@mkdir -p $(BUILD)/fuzz-artifacts
	@# Every committed regression input (tests/fuzz/corpus/<target>/regression-*) once first: each
	@# was a crash or a hang, so each must finish cleanly within 30 s.
	@for t in $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC)); do \
		set -- tests/fuzz/corpus/$$t/regression-*; [ -e "$$1" ] || continue; \
		log=$(BUILD)/fuzz-artifacts/$$t.regressions.log; \
		if $(BUILD)/fuzzobj/fuzz/$$t -timeout=30 "$$@" > $$log 2>&1; then \
			echo "ok   fuzz regressions $$t: $$# inputs"; \
		else echo "FAIL fuzz regressions $$t: log $$log"; tail -5 $$log; exit 1; fi; \
	done
	@scripts/run-tests -j $(FUZZ_JOBS) fuzz $(patsubst tests/fuzz/%.c,$(BUILD)/fuzzobj/fuzz/%,$(FUZZ_SRC)) -- \
		-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(abspath $(BUILD))/fuzz-artifacts/

# Fuzzing without sanitizers (coverage only, -O2): the fast build of long runs and of the speed
# figure; what it finds is then replayed under ASan/UBSan (docs/fuzzing.md).
FUZZ_FAST_VARS = BUILD=$(BUILD)/fuzzfast CC=clang OPT="-O2 -g" EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_DEFS)" \
	EXTRA_LDFLAGS="-fsanitize=fuzzer"
# Not part of `make test`: hours on one core (docs/fuzzing.md gives the rates). Every target
# runs FUZZ_LONG_RUNS times in the fast build, or FUZZ_LONG_CAP seconds if that comes first
# (fuzz_recovery, which builds a node per input, is the one the cap stops), then every input of
# its seed and found corpora runs once under ASan/UBSan.
fuzz-long:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) $(FUZZ_FAST_VARS) fuzz-bins
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) BUILD=$(BUILD)/fuzzobj CC=clang OPT="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined $(FUZZ_DEFS)" \
		EXTRA_LDFLAGS="-fsanitize=fuzzer,address,undefined" fuzz-bins
	@tests/fuzz/run --runs $(FUZZ_LONG_RUNS) --cap-seconds $(FUZZ_LONG_CAP) $(BUILD)/fuzzfast/fuzz && \
		tests/fuzz/run --replay $(BUILD)/fuzzobj/fuzz

# The speed figure (docs/fuzzing.md, "What make fuzz-speed measures"): per target three runs of
# FUZZ_SPEED_RUNS executions (libFuzzer seeds 1, 2, 3), each from the committed seeds with an
# empty work corpus, so the figure does not depend on what earlier runs found.
fuzz-speed:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) $(FUZZ_FAST_VARS) fuzz-bins
	@tests/fuzz/speed --runs $(FUZZ_SPEED_RUNS) $(BUILD)/fuzzfast/fuzz fuzz_datagram fuzz_module

fuzz-bins: $(FUZZ_BIN)
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# Every suite runs even when an earlier one fails; the summary line decides the exit status.
# The simulation phases (plain and ASan) start at a seed base drawn per run (FRESH_SEEDS=1, the
# default), so every run explores new schedules; the base is printed first and in every suite's
# summary, and `make test SIM_BASE=B` reruns the same seeds (FRESH_SEEDS=0: base 1). The
# regression lists are replayed first (docs/simulator.md).
FRESH_SEEDS ?= 1
TEST_SIM_BASE := $(if $(filter test,$(MAKECMDGOALS)),$(or $(SIM_BASE),$(if $(filter 1,$(FRESH_SEEDS)),$(shell \
	echo $$((1000000 + $$(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 999000000))),1)))
# The main tree is compiled with BUILD_JOBS compilers too (CI runs a plain `make test`).
test:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) all
	@scripts/run-tests --begin
	@echo "make test: simulation seed base $(TEST_SIM_BASE) (the same seeds again: make test SIM_BASE=$(TEST_SIM_BASE))"
	@$(MAKE) --no-print-directory unit || scripts/run-tests --suite-failed unit
	@$(MAKE) --no-print-directory SIM_BASE=$(TEST_SIM_BASE) sim || scripts/run-tests --suite-failed sim
	@$(MAKE) --no-print-directory integration || scripts/run-tests --suite-failed integration
	@$(MAKE) --no-print-directory SIM_BASE=$(TEST_SIM_BASE) asan || scripts/run-tests --suite-failed asan
	@$(MAKE) --no-print-directory fuzz-smoke || scripts/run-tests --suite-failed fuzz
	@scripts/run-tests --summary

demo: $(BUILD)/stratad $(BUILD)/strata
	@scripts/demo

bench: all
	@scripts/bench

# Links / packed raw UDP ratio and old-vs-new broadcast throughput only (~4-6 min, quiet machine).
bench-stack: all
	@BENCH_ONLY=stack scripts/bench

# The KV's default log against [smr] log = tob alone (<= 6 minutes on a quiet machine).
bench-kv-tob: all
	@scripts/bench-kv-tob

# put c=1 against its floor (fdatasync + 2 loopback RTT), old code vs new, same run (~4-5 min).
bench-kv-c1: all
	@scripts/bench-kv-c1

# The BFT KV ([smr] log = btob, fail-arbitrary) against the crash KV, N = 4 and 7, c = 1 and 64,
# same run (~3.5 min on a quiet machine; BFT_BENCH_DURATION seconds per run, default 15).
bench-bft: all
	@scripts/bench-bft

# ns per SHA-256 / HMAC-SHA256: libsodium, the portable code and the SHA extensions.
bench-sha256: $(BUILD)/bench/bench_sha256
	@$(BUILD)/bench/bench_sha256 $${BENCH_SHA256_ARGS:-}

# The cost of [cluster] encrypt: perfect-link throughput MACed vs sealed, same run (~1-2 min).
bench-encrypt: all
	@$(BUILD)/bench/bench_links --encrypt-compare --runs $${BENCH_RUNS:-5} --messages $${BENCH_LINKS_MESSAGES:-200000}

# Man pages from the programs' own --help (scripts/gen-man).
man: $(BUILD)/stratad $(BUILD)/strata scripts/cluster scripts/gen-man
	@python3 scripts/gen-man $(BUILD)/man

install: $(BUILD)/stratad $(BUILD)/strata man
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(BUILD)/man/strata.1 $(BUILD)/man/strata-cluster.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(BUILD)/man/stratad.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/stratad $(BUILD)/strata $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 scripts/cluster $(DESTDIR)$(PREFIX)/bin/strata-cluster
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 scripts/completion/strata.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/strata
	ln -sf strata $(DESTDIR)$(PREFIX)/share/bash-completion/completions/strata-cluster
	install -d $(DESTDIR)$(PREFIX)/share/doc/strata
	install -m 0644 docs/deploy.md config/stratad@.service $(DESTDIR)$(PREFIX)/share/doc/strata/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
