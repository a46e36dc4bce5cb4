/* jansson's text in and out, with allocation failures told apart from bad input.
 *
 * Found by failing each allocation of the fault workload in turn (tests/test_fault_alloc.c):
 * - jansson 2.14's dumper ignores a failed write of an object key (do_dump() does not check the
 *   result of dump_string() for keys), so json_dumps() under memory pressure can return text with
 *   a key cut out: a schema stored that way no longer loads and the store no longer opens. Here the
 *   text is built by a callback of ours that remembers any failed append: a dump is whole or NULL.
 * - jansson's lexer reports a failed allocation as a syntax error ("string or '}' expected") or an
 *   error at line -1, so bad input and a lack of memory look alike. A failed parse is tried once
 *   more: bad text fails again in the same place, a lack of memory rarely does (and a second parse
 *   that succeeds is simply the result). */
#include "json_io.h"

#include <stdlib.h>
#include <string.h>

typedef struct dump_buf {
    char *p;
    size_t n, cap;
    int failed;
} dump_buf;

static int dump_cb(const char *s, size_t n, void *payload)
{
    dump_buf *b = payload;
    if (b->failed) return -1;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->n + n + 1) cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->failed = 1;
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

char *ent__json_dumps(const json_t *j, size_t flags)
{
    dump_buf b = {NULL, 0, 0, 0};
    if (json_dump_callback(j, dump_cb, &b, flags) != 0 || b.failed || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

json_t *ent__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, int *nomem)
{
    json_error_t again;
    json_t *j = json_loadb(buf, len, flags, err);
    if (nomem) *nomem = 0;
    if (j) return j;
    if (json_error_code(err) == json_error_out_of_memory) {
        if (nomem) *nomem = 1;
        return NULL;
    }
    if ((j = json_loadb(buf, len, flags, &again))) return j;
    if (nomem)
        *nomem = json_error_code(&again) == json_error_out_of_memory || again.position != err->position ||
                 strcmp(again.text, err->text) != 0;
    return NULL;
}
