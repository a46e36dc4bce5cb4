/* jansson's parser, with an allocation failure told apart from bad input (json_io.c). */
#ifndef ENT_JSON_IO_H
#define ENT_JSON_IO_H

#include <jansson.h>

/* json_loadb(buf, len, flags, err); when it fails, *nomem (may be NULL) says whether the failure
 * was a lack of memory rather than bad text. A NUL byte or a leading byte order mark that the
 * parse stopped at is named in err->text. */
json_t *ent__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, int *nomem);

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
