/* jansson's parser, with an allocation failure told apart from bad input (json_io.c). */
#ifndef ENT_JSON_IO_H
#define ENT_JSON_IO_H

#include <jansson.h>

/* json_loadb(buf, len, flags, err); when it fails, *nomem (may be NULL) says whether the failure
 * was a lack of memory rather than bad text. A NUL byte or a leading byte order mark that the
 * parse stopped at is named in err->text. */
json_t *ent__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, int *nomem);

/* Deepest nesting of arrays and objects ent__json_loadb() hands to jansson: entity data, events,
 * patches and defaults, whose values hold at most ENT__MAX_DEPTH (24) levels plus a few around
 * them. jansson's parser recurses about 250 bytes of stack per level up to its own limit of 2048
 * levels: a text 200 levels deep crashed a host thread of 64 KiB (SIGSEGV), 1000 one of 256 KiB,
 * before anything could refuse it; the library's own conversions recursed further. */
#define ENT__JSON_MAX_DEPTH 64

/* ent__json_loadb() with another limit of nesting (schema JSON: ENT__SCHEMA_JSON_MAX_DEPTH).
 * Text nested deeper is refused before it is parsed, err->text saying so (jansson's code
 * json_error_stack_overflow, as its own limit gives), line, column and position at the bracket. */
json_t *ent__json_loadb_depth(const char *buf, size_t len, size_t flags, int max_depth, json_error_t *err, int *nomem);

/* The integer nodes of a parsed text that the text wrote "-0" (json_io.c): JSON's negative zero,
 * which jansson reads as the integer 0 before any field's kind is known. Sorted, for a search. */
typedef struct ent__negz {
    const json_t **at;
    size_t n;
} ent__negz;

/* Those of j, parsed from buf (len bytes) with flags, into *nz (empty, and nothing allocated, when
 * the text holds no bare -0 token: a scan, no second parse). 0, or -1 when out of memory. */
int ent__negz_find(ent__negz *nz, json_t *j, const char *buf, size_t len, size_t flags);
/* Whether j is one of them (nz may be NULL or empty). */
int ent__negz_has(const ent__negz *nz, const json_t *j);
void ent__negz_free(ent__negz *nz);

#endif
