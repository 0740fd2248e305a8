/* SPDX-License-Identifier: Apache-2.0 */
/* og_event_json with any subject, serial, responder URL, vhosts and detail
 * (the input split at NUL bytes, in that order): the line must be exactly
 * one line that jansson parses as an object, and every field given as
 * well-formed UTF-8 must come back exactly as it went in. */
#include <jansson.h>

#include "fuzz/fuzz_common.h"
#include "src/og_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 5
static const char *const keys[FIELDS] = { "subject", "serial", "responder",
                                          "vhosts", "detail" };

/* well-formed UTF-8, decoded by value (not by og_utf8_seq_len's table) */
static int utf8_ok(const unsigned char *s)
{
    while (*s) {
        unsigned long cp;
        int extra, k;
        if (*s < 0x80) {
            s++;
            continue;
        }
        if ((*s & 0xe0) == 0xc0) { extra = 1; cp = *s & 0x1f; }
        else if ((*s & 0xf0) == 0xe0) { extra = 2; cp = *s & 0x0f; }
        else if ((*s & 0xf8) == 0xf0) { extra = 3; cp = *s & 0x07; }
        else return 0;
        for (k = 1; k <= extra; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[k] & 0x3f);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
            || (extra == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += extra + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    const char *field[FIELDS] = { NULL };
    apr_pool_t *p;
    og_event_t ev;
    const char *line, *nl;
    json_error_t jerr;
    json_t *obj;
    size_t i, start = 0;
    int f = 0;

    fuzz_apr_init();
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (i = 0; i <= size && f < FIELDS; i++) {
        if (i == size || copy[i] == '\0') {
            field[f++] = copy + start;
            start = i + 1;
        }
    }
    p = fuzz_pool();
    og_event_init(&ev, "fetch_failed", "warning", OG_FUZZ_NOW);
    ev.subject = field[0];
    ev.serial = field[1];
    ev.responder = field[2];
    ev.vhosts = field[3];
    ev.detail = field[4];
    ev.http_status = 503;
    line = og_event_json(p, &ev);

    nl = strchr(line, '\n');
    FUZZ_CHECK(nl && nl[1] == '\0', "not exactly one line: %s", line);
    obj = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(obj && json_is_object(obj), "jansson: %s at %d: %s", jerr.text,
               jerr.position, line);
    for (i = 0; i < FIELDS; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (!field[i]) {
            FUZZ_CHECK(v == NULL, "%s present though not given", keys[i]);
            continue;
        }
        FUZZ_CHECK(json_is_string(v), "%s is not a string", keys[i]);
        if (utf8_ok((const unsigned char *)field[i]))
            FUZZ_CHECK(!strcmp(json_string_value(v), field[i]),
                       "%s did not round-trip", keys[i]);
    }
    json_decref(obj);
    apr_pool_destroy(p);
    free(copy);
    return 0;
}
