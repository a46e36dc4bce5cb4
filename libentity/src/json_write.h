/* JSON text out of jansson trees, with every real written as the shortest text that reads back to
 * the same double ("0.99", not jansson's "%.17g" "0.98999999999999999"). Everything else is laid
 * out as json_dumps() lays it out, so the library's JSON looks as before. */
#ifndef ENT_JSON_WRITE_H
#define ENT_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

/* The shortest decimal text that strtod() reads back to exactly d (finite): the fewest significant
 * digits, closest to d, in plain notation for decimal exponents -4..15 ("0.99", "100.0",
 * "0.30000000000000004"; a real keeps its ".0" so it reads back as a real) and in exponent
 * notation beyond, as jansson writes it ("1e20", "5e-324", "-1.7976931348623157e308").
 * buf: at least 32 bytes. Returns the length written. */
size_t ent__json_real(char *buf, double d);

/* Like json_dumps(j, flags | JSON_ENCODE_ANY) for flags JSON_COMPACT or JSON_INDENT(n) (objects in
 * insertion order), reals by ent__json_real(). out: the caller frees it with free(); NULL when out
 * of memory. */
char *ent__json_dumps(const json_t *j, size_t flags);

#endif
