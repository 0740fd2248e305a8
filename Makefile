# SPDX-License-Identifier: Apache-2.0
# mod_ocsp_guard: build with apxs, test with cmocka and Apache::Test.
#   make            build the module (.libs/mod_ocsp_guard.so)
#   make install    install the module and the Debian/RHEL config snippets
#   make test       unit tests (plain and under ASan+UBSan), a fuzz smoke run,
#                   then the Apache::Test suite (needs root: it runs in a
#                   private network namespace as user nobody); installs the
#                   missing Debian packages first
#   make unit-asan  the unit tests under AddressSanitizer and UBSan
#   make fuzz       every fuzz target FUZZ_SECONDS (300) long, then a table
#   make fuzz-smoke every fuzz target a few seconds, and the regression inputs
#   make demo       mod_ssl's stapling and mod_ocsp_guard through the same
#                   responder outage, side by side
#   make deps       install the missing build, test and demo dependencies
#                   (Debian, as root); make test and make demo do it first
#   make deb        build the Debian package libapache2-mod-ocsp-guard_*.deb
#                   (installs its build dependencies first: make deps-deb)
#   make test-deb   build the .deb, install it into this machine's apache2,
#                   check a stapled handshake, purge it (as root; CI)
#   make lint       cppcheck, clang-tidy, the layout and the SPDX lines
#   make bench      handshake benchmark, contenders side by side (as root)
#   make bench-fleet  1, 3 and 5 servers sharing a memcached, then a Redis:
#                   requests to the responder in 45 s (as root; docs/fleet.md)
#   make memcheck   the module under valgrind memcheck while it works (as root)
#   make test-browser  Firefox ESR (headless) loads a must-staple page through a
#                   responder outage, this module beside mod_ssl (as root;
#                   SCREENSHOTS=1 writes docs/browser-*.png)
#   make asan       the module and ocsp-guard with ASan+UBSan, in build/asan/
#   make test-asan  the whole Apache::Test suite against that build (as root;
#                   fails on any sanitizer report; docs/sanitizers.md)
#   make clean

APXS      ?= $(shell command -v apxs || command -v apxs2 || echo apxs)
CC        ?= cc
WARN      := -Wall -Wextra -Werror
SRC       := src/og_cert.c src/og_certcache.c src/og_chain.c src/og_error.c \
             src/og_event.c src/og_fetch.c src/og_lease.c src/og_parse.c \
             src/og_record.c src/og_report.c \
             src/og_round.c src/og_sched.c src/og_store.c src/og_track.c \
             src/og_validate.c src/og_ways.c
GLUE      := mod_ocsp_guard.c mod_ocsp_guard_cache.c mod_ocsp_guard_config.c \
             mod_ocsp_guard_events.c mod_ocsp_guard_fleet.c \
             mod_ocsp_guard_handshake.c mod_ocsp_guard_modssl.c \
             mod_ocsp_guard_statedir.c \
             mod_ocsp_guard_status.c mod_ocsp_guard_watchdog.c
HDR       := mod_ocsp_guard.h $(wildcard src/*.h)
LIBS      := -lcurl -lssl -lcrypto
MODULE    := .libs/mod_ocsp_guard.so

APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
             $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) \
             $(shell apu-1-config --link-ld --libs 2>/dev/null)

# Debian packages: DEB_PKGS to build, test and run the demo (make deps),
# DEB_BUILD_PKGS to build the Debian package (make deps-deb).
DEB_PKGS  := make gcc libc6-dev apache2 apache2-dev libcurl4-openssl-dev \
             libssl-dev openssl libapache2-mod-perl2 libcmocka-dev curl \
             iproute2 util-linux procps faketime perl squid memcached \
             redis-server gnuplot-nox valgrind clang libclang-rt-14-dev \
             libjansson-dev
DEB_BUILD_PKGS := build-essential debhelper dpkg-dev fakeroot lintian \
             apache2-dev libcurl4-openssl-dev libssl-dev libapr1-dev \
             libaprutil1-dev libcmocka-dev

.PHONY: all install test unit unit-asan fuzz fuzz-build fuzz-smoke \
        apache-test demo deps deps-deb deb test-deb lint layout check-spdx \
        clean bench bench-fleet memcheck test-browser browser-deps asan \
        test-asan

PREFIX    ?= /usr/local
TOOL      := ocsp-guard

all: $(MODULE) $(TOOL)

# the command-line tool (ocsp-guard doctor), from the same core
TOOL_SRC  := tools/ocsp-guard.c tools/og_tool.c tools/og_doctor.c \
             tools/og_fetchcmd.c
$(TOOL): $(TOOL_SRC) tools/og_tool.h $(SRC) $(wildcard src/*.h)
	$(CC) $(WARN) -O2 -g $(CPPFLAGS) $(CFLAGS) -I. $(APR_CFLAGS) -o $@ \
	    $(TOOL_SRC) $(SRC) $(LDFLAGS) $(APR_LIBS) $(LIBS)

$(MODULE): $(GLUE) $(SRC) $(HDR)
	@command -v $(APXS) >/dev/null || { echo "apxs not found: run 'make deps' (as root) or install apache2-dev"; exit 1; }
	$(APXS) -c -o mod_ocsp_guard.la $(foreach w,$(WARN) $(CPPFLAGS) $(CFLAGS),-Wc,$(w)) \
	    $(foreach w,$(LDFLAGS),-Wl,$(w)) $(GLUE) $(SRC) $(LIBS)

install: $(MODULE) $(TOOL)
	$(APXS) -i -n ocsp_guard mod_ocsp_guard.la
	install -D -m 755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/$(TOOL)
	@if [ -d /etc/apache2/mods-available ]; then \
	    install -m 644 conf/ocsp_guard.load conf/ocsp_guard.conf /etc/apache2/mods-available/ && \
	    echo "Debian layout: enable with 'a2enmod ocsp_guard' then 'apachectl graceful'"; \
	elif [ -d /etc/httpd/conf.modules.d ]; then \
	    install -m 644 conf/10-ocsp_guard.conf /etc/httpd/conf.modules.d/ && \
	    echo "RHEL layout: installed /etc/httpd/conf.modules.d/10-ocsp_guard.conf"; \
	fi

# --- unit tests of src/ (cmocka) -------------------------------------------
UNIT_TESTS := t/unit/test_record t/unit/test_sched t/unit/test_validate \
              t/unit/test_cert t/unit/test_fetch t/unit/test_event \
              t/unit/test_parse t/unit/test_store t/unit/test_chain \
              t/unit/test_track t/unit/test_round t/unit/test_report \
              t/unit/test_ways t/unit/test_certcache

t/unit/test_%: t/unit/test_%.c $(SRC) $(wildcard src/*.h) t/unit/unit_pki.h
	$(CC) $(WARN) -g -I. $(APR_CFLAGS) -o $@ $< $(SRC) $(APR_LIBS) $(LIBS) -lcmocka -lpthread

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; ./$$t; done

# The same unit tests under AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer: any report fails the run.
ASAN_CC    ?= $(shell command -v clang >/dev/null && echo clang || echo $(CC))
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
SAN_ENV    := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 \
              UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
              LSAN_OPTIONS=exitcode=23
ASAN_OBJ   := $(patsubst src/%.c,build/asan/%.o,$(SRC))
ASAN_TESTS := $(patsubst t/unit/%,build/asan/%,$(UNIT_TESTS))

build/asan/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p build/asan
	$(ASAN_CC) $(WARN) $(SAN_FLAGS) -g -O1 -I. $(APR_CFLAGS) -c -o $@ $<

build/asan/test_%: t/unit/test_%.c $(ASAN_OBJ) t/unit/unit_pki.h
	$(ASAN_CC) $(WARN) $(SAN_FLAGS) -g -O1 -I. $(APR_CFLAGS) -o $@ $< \
	    $(ASAN_OBJ) $(APR_LIBS) $(LIBS) -lcmocka -lpthread

.SECONDARY: $(ASAN_OBJ)

unit-asan: $(ASAN_TESTS)
	@set -e; for t in $(ASAN_TESTS); do echo "== $$t (ASan+UBSan)"; \
	    $(SAN_ENV) ./$$t; done

# --- fuzzing (libFuzzer, clang, ASan+UBSan; see docs/fuzzing.md) ----------
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_TARGETS := validate validate_signed record statefile cert fetch_body \
                parse event_json
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all
FUZZ_OBJ     := $(patsubst src/%.c,build/fuzz/obj/%.o,$(SRC))
FUZZ_BINS    := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))

build/fuzz/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p build/fuzz/obj
	$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -I. \
	    $(APR_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer -I. $(APR_CFLAGS) \
	    -DOG_FUZZ_PKI='"$(CURDIR)/fuzz/pki"' -o $@ $< $(FUZZ_OBJ) \
	    $(APR_LIBS) $(LIBS) -ljansson

.SECONDARY: $(FUZZ_OBJ)

fuzz-build: $(FUZZ_BINS)

# every target FUZZ_SECONDS long, one after another, then the table
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(FUZZ_TARGETS)

# every target a few seconds, and every regression input (make test)
fuzz-smoke: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) bash fuzz/run.sh $(FUZZ_TARGETS)

# --- Apache::Test suite ----------------------------------------------------
apache-test: $(MODULE) $(TOOL) bench/tls_load
	bash t/run-suite.sh $(TEST_ARGS)

# make test and make demo install what is missing first (make deps); a
# sub-make then builds, so that apxs and apr-1-config are there by then.
test: deps
	@$(MAKE) --no-print-directory unit unit-asan fuzz-smoke apache-test

demo: deps
	@$(MAKE) --no-print-directory $(MODULE)
	bash tools/demo.sh

# --- AddressSanitizer + UndefinedBehaviorSanitizer build and suite ----------
# The sources are copied to build/asan/ and built there with apxs, so that
# the normal objects in .libs/ and src/ are left alone. gcc's shared
# runtimes (libasan, libubsan): the uninstrumented httpd gets them through
# LD_PRELOAD (t/bin/httpd-asan). See docs/sanitizers.md.
ASAN_DIR    := build/asan
ASAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1
ASAN_MODULE := $(ASAN_DIR)/mod_ocsp_guard.so
ASAN_TOOL   := $(ASAN_DIR)/$(TOOL)

asan: $(ASAN_MODULE) $(ASAN_TOOL)

$(ASAN_MODULE): $(GLUE) $(SRC) $(HDR)
	@command -v $(APXS) >/dev/null || { echo "apxs not found: run 'make deps' (as root) or install apache2-dev"; exit 1; }
	rm -rf $(ASAN_DIR)/obj
	mkdir -p $(ASAN_DIR)/obj/src
	cp $(GLUE) mod_ocsp_guard.h $(ASAN_DIR)/obj/
	cp $(SRC) $(wildcard src/*.h) $(ASAN_DIR)/obj/src/
	cd $(ASAN_DIR)/obj && $(APXS) -c -o mod_ocsp_guard.la \
	    $(foreach w,$(WARN) $(ASAN_CFLAGS),-Wc,$(w)) \
	    -Wl,-fsanitize=address,undefined $(GLUE) $(SRC) $(LIBS)
	cp $(ASAN_DIR)/obj/.libs/mod_ocsp_guard.so $@

$(ASAN_TOOL): $(TOOL_SRC) tools/og_tool.h $(SRC) $(wildcard src/*.h)
	@mkdir -p $(ASAN_DIR)
	$(CC) $(WARN) $(ASAN_CFLAGS) -I. $(APR_CFLAGS) -o $@ $(TOOL_SRC) $(SRC) \
	    $(APR_LIBS) $(LIBS)

test-asan: $(ASAN_MODULE) $(ASAN_TOOL) bench/tls_load
	bash tools/test-asan.sh $(TEST_ARGS)

# --- benchmarks (ratios side by side in one run; see bench/run.sh) ------------
bench/tls_load: bench/tls_load.c
	$(CC) $(WARN) -O2 -o $@ $< -lssl -lcrypto -lpthread

memcheck: $(MODULE) bench/tls_load
	bash tools/memcheck.sh

bench/fetch_scale: bench/fetch_scale.c $(SRC) $(wildcard src/*.h)
	$(CC) $(WARN) -O2 -g -I. $(APR_CFLAGS) -o $@ bench/fetch_scale.c $(SRC) \
	    $(APR_LIBS) $(LIBS)

bench: $(MODULE) bench/tls_load bench/fetch_scale
	bash bench/run.sh

bench-fleet: deps $(MODULE) bench/tls_load
	bash bench/fleet.sh

# --- a real browser through a responder outage (t/browser/) ------------------
BROWSER_PKGS := firefox-esr libnss3-tools apache2 apache2-dev openssl perl \
                iproute2 util-linux

browser-deps:
	@bash tools/deps.sh --what "make test-browser" $(BROWSER_PKGS)

test-browser: browser-deps $(MODULE)
	SCREENSHOTS=$(SCREENSHOTS) bash t/browser/run.sh

# Only what is missing, with one dpkg-query; nothing at all when every
# package is there. Not root or not Debian: a message saying what to do.
deps:
	@bash tools/deps.sh --what "make test and make demo" $(DEB_PKGS)

# The layout's rules: the core includes no httpd header; the handshake
# path's object references no fetch, round or libcurl symbol; no source
# file of the module or the core grows past about 600 lines.
layout: $(MODULE)
	@bad=$$(grep -lE '#include <(httpd|http_[a-z]*|ap_[a-z_]*|util_[a-z_]*|mod_[a-z_]*)\.h>' src/*.c src/*.h); \
	if [ -n "$$bad" ]; then echo "httpd headers in the core: $$bad"; exit 1; fi
	@bad=$$(nm -u .libs/mod_ocsp_guard_handshake.o | grep -E ' (og_fetch|og_round|og_validate|curl_)'); \
	if [ -n "$$bad" ]; then echo "the handshake path reaches the fetcher:"; echo "$$bad"; exit 1; fi
	@long=$$(wc -l $(GLUE) $(SRC) mod_ocsp_guard.h src/*.h | awk '$$2 != "total" && $$1 > 650'); \
	if [ -n "$$long" ]; then echo "files over 650 lines:"; echo "$$long"; exit 1; fi
	@echo "layout: core free of httpd headers, handshake path free of fetch code, files under 650 lines"

deps-deb:
	@bash tools/deps.sh --what "make deb" $(DEB_BUILD_PKGS)

# --- Debian package (debian/, dpkg-buildpackage; see tools/build-deb.sh) ----
deb: deps-deb
	bash tools/build-deb.sh

# install it into this machine's apache2, staple, purge, restore (as root)
test-deb: deps deps-deb
	bash tools/test-deb.sh

lint: layout check-spdx
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --suppress=missingIncludeSystem --inline-suppr -I. -Isrc \
	    $(GLUE) $(SRC) $(TOOL_SRC) $(wildcard fuzz/*.c)
	clang-tidy --quiet $(SRC) $(GLUE) $(TOOL_SRC) $(wildcard fuzz/*.c) \
	    -- -I. $(APR_CFLAGS) \
	    -I$(shell $(APXS) -q INCLUDEDIR)

check-spdx:
	bash tools/check-spdx.sh

clean:
	rm -rf .libs *.la *.lo *.slo *.o src/*.lo src/*.slo src/*.o src/.libs \
	    $(UNIT_TESTS) $(TOOL) bench/tls_load bench/fetch_scale build \
	    libapache2-mod-ocsp-guard_*.deb
