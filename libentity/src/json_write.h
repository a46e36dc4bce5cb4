/* JSON text out of jansson trees, with every real written as the shortest text that reads back to
 * the same double ("0.99", not jansson's "%.17g" "0.98999999999999999"). Everything else is laid
 * out as json_dumps() lays it out, so the library's JSON looks as before. */
#ifndef ENT_JSON_WRITE_H
#define ENT_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The shortest decimal text that strtod() reads back to exactly d (finite): the fewest significant
 * digits, closest to d, in plain notation for decimal exponents -4..15 ("0.99", "100.0",
 * "0.30000000000000004"; a real keeps its ".0" so it reads back as a real) and in exponent
 * notation beyond, as jansson writes it ("1e20", "5e-324", "-1.7976931348623157e308"); NaN and
 * infinities as the words NaN, Infinity, -Infinity (for messages: JSON writers quote them).
 * buf: at least 32 bytes. Returns the length written. */
size_t ent__json_real(char *buf, double d);

/* Like json_dumps(j, flags | JSON_ENCODE_ANY) for flags JSON_COMPACT or JSON_INDENT(n) (objects in
 * insertion order), reals by ent__json_real(). out: the caller frees it with free(); NULL when out
 * of memory. */
char *ent__json_dumps(const json_t *j, size_t flags);

/* A growing text buffer for writers that lay JSON out themselves (events, see event_json.c) with
 * the same pieces as ent__json_dumps(). Zero it with ENT__JBUF_INIT; p is NUL-terminated once
 * anything was put; the owner frees p with free(). A failed allocation sets oom and makes every
 * later put do nothing, so a writer checks oom once at the end. */
typedef struct ent__jbuf {
    char *p;
    size_t n, cap;
    int oom;
} ent__jbuf;
#define ENT__JBUF_INIT {NULL, 0, 0, 0}
void ent__jb_put(ent__jbuf *b, const char *s, size_t n);
/* A JSON string as jansson writes it: '"', '\\' and control characters escaped, the rest as is
 * (s must be valid UTF-8, as jansson requires of its strings). */
void ent__jb_string(ent__jbuf *b, const char *s, size_t n);
void ent__jb_i64(ent__jbuf *b, int64_t i);
void ent__jb_u64(ent__jbuf *b, uint64_t u);
void ent__jb_real(ent__jbuf *b, double d);
/* j laid out as ent__json_dumps() lays it out; NULL sets oom. */
void ent__jb_json(ent__jbuf *b, const json_t *j, size_t flags);

#endif
