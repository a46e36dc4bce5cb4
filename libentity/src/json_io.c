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

#include <string.h>

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
