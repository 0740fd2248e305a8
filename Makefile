# mod_ocsp_guard: build with apxs, test with cmocka and Apache::Test.
#   make            build the module (.libs/mod_ocsp_guard.so)
#   make install    install the module and the Debian/RHEL config snippets
#   make test       unit tests, then the Apache::Test suite (needs root: it
#                   runs in a private network namespace as user nobody)
#   make demo       show it stapling, and surviving a responder outage
#   make deps       install build and test dependencies (Debian, as root)
#   make lint       cppcheck and clang-tidy
#   make bench      handshake benchmark, contenders side by side (as root)
#   make memcheck   the module under valgrind memcheck while it works (as root)
#   make asan       the module and ocsp-guard with ASan+UBSan, in build/asan/
#   make test-asan  the whole Apache::Test suite against that build (as root;
#                   fails on any sanitizer report; docs/sanitizers.md)
#   make clean

APXS      ?= $(shell command -v apxs || command -v apxs2 || echo apxs)
CC        ?= cc
WARN      := -Wall -Wextra -Werror
SRC       := src/og_cert.c src/og_chain.c src/og_error.c src/og_track.c src/og_event.c src/og_fetch.c src/og_record.c src/og_report.c src/og_round.c src/og_store.c \
             src/og_sched.c src/og_validate.c
GLUE      := mod_ocsp_guard.c mod_ocsp_guard_cache.c mod_ocsp_guard_config.c \
             mod_ocsp_guard_events.c mod_ocsp_guard_handshake.c \
             mod_ocsp_guard_status.c mod_ocsp_guard_watchdog.c
HDR       := mod_ocsp_guard.h $(wildcard src/*.h)
LIBS      := -lcurl -lssl -lcrypto
MODULE    := .libs/mod_ocsp_guard.so

APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
             $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) \
             $(shell apu-1-config --link-ld --libs 2>/dev/null)

DEB_PKGS  := apache2 apache2-dev libcurl4-openssl-dev libssl-dev openssl \
             libapache2-mod-perl2 libcmocka-dev curl iproute2 util-linux \
             faketime perl squid memcached gnuplot-nox valgrind

.PHONY: all install test unit apache-test demo deps lint layout clean bench memcheck \
        asan test-asan

PREFIX    ?= /usr/local
TOOL      := ocsp-guard

all: $(MODULE) $(TOOL)

# the command-line tool (ocsp-guard doctor), from the same core
$(TOOL): tools/ocsp-guard.c $(SRC) $(wildcard src/*.h)
	$(CC) $(WARN) -O2 -g -I. $(APR_CFLAGS) -o $@ tools/ocsp-guard.c $(SRC) \
	    $(APR_LIBS) $(LIBS)

$(MODULE): $(GLUE) $(SRC) $(HDR)
	@command -v $(APXS) >/dev/null || { echo "apxs not found: run 'make deps' (as root) or install apache2-dev"; exit 1; }
	$(APXS) -c -o mod_ocsp_guard.la $(foreach w,$(WARN),-Wc,$(w)) \
	    $(GLUE) $(SRC) $(LIBS)

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
UNIT_TESTS := t/unit/test_record t/unit/test_sched t/unit/test_validate t/unit/test_chain t/unit/test_track t/unit/test_round t/unit/test_report \
              t/unit/test_cert t/unit/test_fetch t/unit/test_event

t/unit/test_%: t/unit/test_%.c $(SRC) $(wildcard src/*.h) t/unit/unit_pki.h
	$(CC) $(WARN) -g -I. $(APR_CFLAGS) -o $@ $< $(SRC) $(APR_LIBS) $(LIBS) -lcmocka -lpthread

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; ./$$t; done

# --- Apache::Test suite ----------------------------------------------------
apache-test: $(MODULE) $(TOOL) bench/tls_load
	bash t/run-suite.sh $(TEST_ARGS)

test: unit apache-test

demo: $(MODULE)
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

$(ASAN_TOOL): tools/ocsp-guard.c $(SRC) $(wildcard src/*.h)
	@mkdir -p $(ASAN_DIR)
	$(CC) $(WARN) $(ASAN_CFLAGS) -I. $(APR_CFLAGS) -o $@ tools/ocsp-guard.c $(SRC) \
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

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "all dependencies present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "missing:$$missing"; echo "run: sudo apt-get install$$missing"; exit 1; fi

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

lint: layout
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --suppress=missingIncludeSystem --inline-suppr -I. -Isrc \
	    $(GLUE) $(SRC) tools/ocsp-guard.c
	clang-tidy --quiet $(SRC) $(GLUE) tools/ocsp-guard.c -- -I. $(APR_CFLAGS) \
	    -I$(shell $(APXS) -q INCLUDEDIR)

clean:
	rm -rf .libs *.la *.lo *.slo *.o src/*.lo src/*.slo src/*.o src/.libs \
	    $(UNIT_TESTS) $(TOOL) bench/tls_load bench/fetch_scale build
