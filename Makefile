# mod_ocsp_guard: build with apxs, test with cmocka and Apache::Test.
#   make            build the module (.libs/mod_ocsp_guard.so)
#   make install    install the module and the Debian/RHEL config snippets
#   make test       unit tests (plain and under ASan+UBSan), a fuzz smoke run,
#                   then the Apache::Test suite (needs root: it runs in a
#                   private network namespace as user nobody)
#   make unit-asan  the unit tests under AddressSanitizer and UBSan
#   make fuzz       every fuzz target FUZZ_SECONDS (300) long, then a table
#   make fuzz-smoke every fuzz target a few seconds, and the regression inputs
#   make demo       show it stapling, and surviving a responder outage
#   make deps       install build and test dependencies (Debian, as root)
#   make lint       cppcheck and clang-tidy
#   make bench      handshake benchmark, contenders side by side (as root)
#   make memcheck   the module under valgrind memcheck while it works (as root)
#   make clean

APXS      ?= $(shell command -v apxs || command -v apxs2 || echo apxs)
CC        ?= cc
WARN      := -Wall -Wextra -Werror
SRC       := src/og_cert.c src/og_error.c src/og_event.c src/og_fetch.c src/og_record.c src/og_store.c \
             src/og_sched.c src/og_validate.c src/og_parse.c
HDR       := mod_ocsp_guard.h $(wildcard src/*.h)
LIBS      := -lcurl -lssl -lcrypto
MODULE    := .libs/mod_ocsp_guard.so

APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
             $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) \
             $(shell apu-1-config --link-ld --libs 2>/dev/null)

DEB_PKGS  := apache2 apache2-dev libcurl4-openssl-dev libssl-dev openssl \
             libapache2-mod-perl2 libcmocka-dev curl iproute2 util-linux \
             faketime perl squid memcached gnuplot-nox valgrind \
             clang libclang-rt-14-dev libjansson-dev

.PHONY: all install test unit unit-asan fuzz fuzz-build fuzz-smoke apache-test demo deps lint clean bench memcheck

PREFIX    ?= /usr/local
TOOL      := ocsp-guard

all: $(MODULE) $(TOOL)

# the command-line tool (ocsp-guard doctor), from the same core
$(TOOL): tools/ocsp-guard.c $(SRC) $(wildcard src/*.h)
	$(CC) $(WARN) -O2 -g -I. $(APR_CFLAGS) -o $@ tools/ocsp-guard.c $(SRC) \
	    $(APR_LIBS) $(LIBS)

$(MODULE): mod_ocsp_guard.c $(SRC) $(HDR)
	@command -v $(APXS) >/dev/null || { echo "apxs not found: run 'make deps' (as root) or install apache2-dev"; exit 1; }
	$(APXS) -c -o mod_ocsp_guard.la $(foreach w,$(WARN),-Wc,$(w)) \
	    mod_ocsp_guard.c $(SRC) $(LIBS)

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
              t/unit/test_parse t/unit/test_store

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
apache-test: $(MODULE) $(TOOL)
	bash t/run-suite.sh $(TEST_ARGS)

test: unit unit-asan fuzz-smoke apache-test

demo: $(MODULE)
	bash tools/demo.sh

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

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "all dependencies present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "missing:$$missing"; echo "run: sudo apt-get install$$missing"; exit 1; fi

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --suppress=missingIncludeSystem --inline-suppr -I. -Isrc \
	    mod_ocsp_guard.c $(SRC) tools/ocsp-guard.c $(wildcard fuzz/*.c)
	clang-tidy --quiet $(SRC) mod_ocsp_guard.c tools/ocsp-guard.c \
	    $(wildcard fuzz/*.c) -- -I. $(APR_CFLAGS) \
	    -I$(shell $(APXS) -q INCLUDEDIR)

clean:
	rm -rf .libs *.la *.lo *.slo *.o src/*.lo src/*.slo src/*.o src/.libs \
	    $(UNIT_TESTS) $(TOOL) bench/tls_load bench/fetch_scale build
