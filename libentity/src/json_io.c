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

json_t *ent__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, int *nomem)
{
    json_error_t again;
    json_t *j;
    const char *nul;
    if (nomem) *nomem = 0;
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
