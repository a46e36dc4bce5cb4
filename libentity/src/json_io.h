/* jansson's parser, with an allocation failure told apart from bad input (json_io.c). */
#ifndef ENT_JSON_IO_H
#define ENT_JSON_IO_H

#include <jansson.h>

/* json_loadb(buf, len, flags, err); when it fails, *nomem (may be NULL) says whether the failure
 * was a lack of memory rather than bad text. A NUL byte or a leading byte order mark that the
 * parse stopped at is named in err->text. */
json_t *ent__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, int *nomem);

#endif
