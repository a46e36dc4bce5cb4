/* jansson's parser, with an allocation failure told apart from bad input.
 *
 * Found by failing each allocation of the fault workload in turn (tests/test_fault_alloc.c):
 * jansson's lexer reports a failed allocation as a syntax error ("string or '}' expected") or an
 * error at line -1, so a schema or entity refused as bad JSON could in truth be a lack of memory
 * (and a stored schema called damaged). A failed parse is tried once more: bad text fails again in
 * the same place, a lack of memory rarely does (and a second parse that succeeds is the result).
 * (The same runs found jansson's json_dumps() dropping an object key when an allocation fails
 * mid-dump; json_write.c's writer, which remembers any failed append, is what the library uses.) */
#include "json_io.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's lexer (2.14, Debian 12's) ignores a failed append to the buffer it saves a token in
 * (lex_save), then copies a string token out of that buffer looking for its closing quote past
 * the end: a segfault, or its assert in lex_scan_string (upstream issue 362). Found putting a
 * 20 MiB string under ulimit -v: exit 139 or 134 for a band of limits, a clean "out of memory"
 * below and above it. The buffer doubles as a token grows, the old one held while it copies, and
 * the whole token is copied out at the end: about 3 times the longest token, beside the tree. So
 * before a large text, room for 4 times its length is asked for and given back at once (address
 * space only: it is never touched); without it the text is refused as out of memory instead of
 * handed to the lexer. Not a guarantee (another thread may take the room meanwhile), but it makes
 * the case a memory limit made certain a clean failure. A short text cannot hold a token long
 * enough to matter, and skips it. */
#define ROOM_PROBE_MIN ((size_t)1 << 20)

/* Called through volatile pointers: a compiler may drop a malloc() whose result is only freed,
 * and take it as a success (clang -O2 did, and the lexer crashed again in its builds). */
static void *(*volatile probe_alloc)(size_t) = malloc;
static void (*volatile probe_free)(void *) = free;

static int room_for(size_t len)
{
    void *room;
    if (len < ROOM_PROBE_MIN) return 1;
    if (len > SIZE_MAX / 4 || !(room = probe_alloc(4 * len))) return 0;
    probe_free(room);
    return 1;
}

/* Whether buf nests arrays and objects deeper than max (brackets inside strings do not count):
 * then err says where. A scan of the bytes, a small part of a parse's cost; text jansson would
 * refuse anyway (an unclosed string) scans to its end and is left to jansson. */
static int too_deep(const char *buf, size_t len, int max, json_error_t *err)
{
    int depth = 0, in_str = 0;
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) {
                memset(err, 0, sizeof *err);
                err->line = (int)line;
                err->column = (int)(i - line_start + 1);
                err->position = (int)i;
                snprintf(err->text, sizeof err->text - 1, "nested deeper than %d levels of arrays and objects", max);
                err->text[sizeof err->text - 1] = (char)json_error_stack_overflow;
                return 1;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    return 0;
}

json_t *ent__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, int *nomem)
{
    return ent__json_loadb_depth(buf, len, flags, ENT__JSON_MAX_DEPTH, err, nomem);
}

json_t *ent__json_loadb_depth(const char *buf, size_t len, size_t flags, int max_depth, json_error_t *err, int *nomem)
{
    json_error_t again;
    json_t *j;
    const char *nul;
    if (nomem) *nomem = 0;
    if (too_deep(buf, len, max_depth, err)) return NULL;
    if (!room_for(len)) {
        memset(err, 0, sizeof *err);
        err->line = err->column = -1;
        snprintf(err->text, sizeof err->text, "out of memory");
        if (nomem) *nomem = 1;
        return NULL;
    }
    if ((j = json_loadb(buf, len, flags, err))) return j;
    if (json_error_code(err) == json_error_out_of_memory) {
        if (nomem) *nomem = 1;
        return NULL;
    }
    if ((j = json_loadb(buf, len, flags, &again))) return j;
    if (nomem)
        *nomem = json_error_code(&again) == json_error_out_of_memory || again.position != err->position ||
                 strcmp(again.text, err->text) != 0;
    nul = memchr(buf, '\0', len);
    if (nul && (size_t)(nul - buf) <= (size_t)err->position) {
        /* jansson reads a NUL byte as the end of the text: "premature end of input" or "end of
         * file expected", which sent the user looking for a cut body (an HTTP write, a schema
         * file); the tool names it so in its own reads. Its error code, in the text's last
         * byte, stays. */
        snprintf(err->text, sizeof err->text - 1, "a NUL byte at byte %zu (JSON holds none: a string writes it \\u0000)",
                 (size_t)(nul - buf) + 1);
        return NULL;
    }
    if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) && err->position <= 3) {
        /* A file saved with a UTF-8 byte order mark (Notepad, PowerShell 5): jansson's "'[' or
         * '{' expected near" then quoted the mark, which no terminal shows. */
        snprintf(err->text, sizeof err->text - 1,
                 "a UTF-8 byte order mark (EF BB BF) at the start: JSON text has none (save the file without it)");
        return NULL;
    }
    if (json_error_code(err) == json_error_numeric_overflow && strstr(err->text, "integer")) {
        /* jansson holds integers in an int64 ("too big integer"; not "real number overflow"):
         * say how to write what it cannot (its error code, in the text's last byte, stays) */
        size_t n = strlen(err->text);
        snprintf(err->text + n, sizeof err->text - 1 - n, " (past 64-bit integers: a uint above 2^63-1 goes as a "
                                                          "decimal string, a float with a decimal point or exponent)");
    }
    return NULL;
}

/* ---- JSON's -0 ----------------------------------------------------------------------------
 *
 * jansson reads the text -0 as the integer 0 (it has no negative zero integer), before anything
 * knows the value goes into a float field: {"price": -0} stored +0.0 where {"price": -0.0} stored
 * -0.0, and JSON's -0 is a valid number for negative zero (RFC 8259; JavaScript's JSON.parse gives
 * -0). jansson keeps no number's text, and reading every integer as a real
 * (JSON_DECODE_INT_AS_REAL) would lose int64 precision. So only a text holding a bare -0 token is
 * parsed a second time, integers as reals, and the two trees (one text, one shape) are walked
 * together: an integer 0 whose twin is a real with its sign bit set was written -0. Its readers
 * (entity_json.c) then give -0.0 where a float field takes it; elsewhere it stays JSON's
 * integer 0, as before. */

/* Whether buf holds -0 as a number of its own (not followed by '.', 'e', 'E' or a digit), outside
 * strings. A text without "-0" costs a memchr() per '-' (a timestamp's "-06" is passed over at
 * once); string state is followed only up to a candidate. */
static int has_bare_negzero(const char *buf, size_t len)
{
    size_t at = 0, from = 0; /* the string state is known at `at` */
    int in_str = 0;
    const char *m;
    while (from < len && (m = memchr(buf + from, '-', len - from))) {
        size_t c = (size_t)(m - buf);
        char next2 = c + 2 < len ? buf[c + 2] : ' ';
        from = c + 1;
        if ((c && (buf[c - 1] == 'e' || buf[c - 1] == 'E')) /* an exponent: 1e-0 */ || c + 1 >= len || buf[c + 1] != '0' || next2 == '.' || next2 == 'e' || next2 == 'E' || (next2 >= '0' && next2 <= '9'))
            continue;
        for (; at < c; at++) {
            if (!in_str) in_str = buf[at] == '"';
            else if (buf[at] == '\\') at++; /* the escaped byte, '"' included */
            else if (buf[at] == '"') in_str = 0;
        }
        if (at == c && !in_str) return 1;
        /* at past c: c was the byte a backslash escaped, inside a string */
    }
    return 0;
}

static int negz_push(ent__negz *nz, size_t *cap, const json_t *j)
{
    if (nz->n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        const json_t **p = realloc(nz->at, c * sizeof *p);
        if (!p) return -1;
        nz->at = p;
        *cap = c;
    }
    nz->at[nz->n++] = j;
    return 0;
}

/* a and b: one place of the two trees (the same text; jansson bounds their depth) */
static int negz_collect(ent__negz *nz, size_t *cap, json_t *a, json_t *b)
{
    if (!b) return 0;
    if (json_is_integer(a)) {
        if (json_integer_value(a) == 0 && json_is_real(b) && signbit(json_real_value(b))) return negz_push(nz, cap, a);
        return 0;
    }
    if (json_is_array(a) && json_is_array(b)) {
        for (size_t i = 0; i < json_array_size(a); i++)
            if (negz_collect(nz, cap, json_array_get(a, i), json_array_get(b, i))) return -1;
    } else if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        size_t kn;
        json_t *m;
        json_object_keylen_foreach(a, k, kn, m) {
            if (negz_collect(nz, cap, m, json_object_getn(b, k, kn))) return -1;
        }
    }
    return 0;
}

static int ptr_cmp(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (const json_t *const *)x, b = (uintptr_t) * (const json_t *const *)y;
    return a < b ? -1 : a > b;
}

int ent__negz_find(ent__negz *nz, json_t *j, const char *buf, size_t len, size_t flags)
{
    json_error_t err;
    json_t *twin;
    size_t cap = 0;
    int nomem, rc;
    nz->at = NULL;
    nz->n = 0;
    if (!j || !has_bare_negzero(buf, len)) return 0;
    /* The text parsed once already: a second parse that fails is short of memory. */
    if (!(twin = ent__json_loadb(buf, len, flags | JSON_DECODE_INT_AS_REAL, &err, &nomem))) return -1;
    rc = negz_collect(nz, &cap, j, twin);
    json_decref(twin);
    if (rc) {
        ent__negz_free(nz);
        return -1;
    }
    if (nz->n > 1) qsort(nz->at, nz->n, sizeof *nz->at, ptr_cmp);
    return 0;
}

int ent__negz_has(const ent__negz *nz, const json_t *j)
{
    return nz && nz->n && bsearch(&j, nz->at, nz->n, sizeof *nz->at, ptr_cmp) != NULL;
}

void ent__negz_free(ent__negz *nz)
{
    free(nz->at);
    nz->at = NULL;
    nz->n = 0;
}
