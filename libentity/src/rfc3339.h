/* RFC 3339 timestamps (rfc3339.c), shared by entity_json.c, event_json.c and value_parse.c. */
#ifndef ENT_RFC3339_H
#define ENT_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* RFC 3339 UTC with exactly 9 fraction digits ("1970-01-01T00:00:00.000000000Z"), so that text
 * order is time order; and its parser (any fraction, 'Z' or an offset). Parse returns 0, -1 when
 * s is not such a timestamp, or -2 when it is one outside what int64 ns can hold (ENT__TS_RANGE). */
#define ENT__TS_RANGE "1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"
void ent__ts_format(char buf[48], int64_t ns);
int ent__ts_parse(int64_t *out, const char *s, size_t n);
/* Why ent__ts_parse() returned -1 for s, in a few words for a message ("a space between date and
 * time, where RFC 3339 has 'T'"); static text. */
const char *ent__ts_why(const char *s, size_t n);

#endif
