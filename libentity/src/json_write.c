/* JSON writer over jansson trees with shortest round-trip reals.
 *
 * Why not json_dumps(): jansson 2.14 prints a real with "%.*g" at one precision for the whole
 * document (JSON_REAL_PRECISION, 17 by default). 17 digits always read back exactly but print 0.99
 * as 0.98999999999999999; fewer digits lose other values. No precision fits every double, and
 * jansson has no hook for a value's text, so the tree is written here: the layout (separators,
 * indentation, string escapes) is jansson's own, and a test compares the two on trees without
 * reals. Why not a hand-written shortest-digit algorithm (Ryu, Grisu): trying precisions 1..17
 * with "%.*g" and strtod() is exact by construction, and a real costs at most 17 tries. */
#include "json_write.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ent__json_real(char *buf, double d)
{
    const char *lp = localeconv()->decimal_point;
    char dp = lp && lp[0] ? lp[0] : '.';
    char sci[40], *e;
    int prec, x;
    size_t n;
    /* The fewest significant digits that read back to d: "%.*e" rounds correctly, so the first
     * precision that round-trips gives the closest such decimal (the one Python's repr() picks). */
    for (prec = 1; prec <= 17; prec++) {
        double back;
        snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
        back = strtod(sci, NULL); /* in the same locale as the snprintf */
        if (memcmp(&back, &d, sizeof d) == 0) break;
    }
    if (prec > 17) prec = 17;
    e = strchr(sci, 'e');
    x = e ? atoi(e + 1) : 0;
    if (x >= -4 && x < 16) {
        /* plain notation, as people write prices and ratios: 100.0, 0.99, 0.0001 */
        int decimals = prec - 1 - x;
        snprintf(buf, 32, "%.*f", decimals > 0 ? decimals : 0, d);
    } else {
        /* exponent notation the way jansson writes it: no '+', no leading zeros (1e20, 5e-324) */
        char *m = sci, *o = buf;
        while (*m && *m != 'e') *o++ = *m++;
        *o++ = 'e';
        if (x < 0) *o++ = '-';
        o += snprintf(o, 8, "%d", x < 0 ? -x : x);
        *o = '\0';
    }
    /* JSON's decimal point whatever the host's locale (as jansson does) */
    if (dp != '.')
        for (char *p = buf; *p; p++)
            if (*p == dp) *p = '.';
    n = strlen(buf);
    /* A real keeps a '.' or an exponent, or it would read back as an integer. */
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return n;
}

typedef struct jbuf {
    char *p;
    size_t n, cap;
    int oom;
} jbuf;

static void put(jbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap - b->n < n + 1) cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(jbuf *b, const char *s) { put(b, s, strlen(s)); }

/* jansson's dump_indent(): a newline and depth * indent blanks, or a blank after a separator
 * when not compact. */
static void indent(jbuf *b, size_t flags, int depth, int space)
{
    size_t width = flags & JSON_MAX_INDENT;
    if (width) {
        put(b, "\n", 1);
        for (size_t i = 0; i < (size_t)depth * width; i++) put(b, " ", 1);
    } else if (space && !(flags & JSON_COMPACT)) {
        put(b, " ", 1);
    }
}

/* jansson's dump_string() without JSON_ENSURE_ASCII and JSON_ESCAPE_SLASH: '"', '\\' and control
 * characters escaped, UTF-8 (already checked by jansson when the string was made) as it is. */
static void string(jbuf *b, const char *s, size_t n)
{
    size_t run = 0;
    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char seq[8];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(b, s + run, i - run);
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            snprintf(seq, sizeof seq, "\\u%04X", (unsigned)c);
            esc = seq;
        }
        puts_(b, esc);
        run = i + 1;
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

static void value(jbuf *b, const json_t *j, size_t flags, int depth)
{
    char num[40];
    switch (json_typeof(j)) {
    case JSON_NULL: puts_(b, "null"); break;
    case JSON_TRUE: puts_(b, "true"); break;
    case JSON_FALSE: puts_(b, "false"); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        puts_(b, num);
        break;
    case JSON_REAL: put(b, num, ent__json_real(num, json_real_value(j))); break;
    case JSON_STRING: string(b, json_string_value(j), json_string_length(j)); break;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        if (n == 0) {
            puts_(b, "[]");
            break;
        }
        put(b, "[", 1);
        indent(b, flags, depth + 1, 0);
        for (size_t i = 0; i < n; i++) {
            value(b, json_array_get(j, i), flags, depth + 1);
            if (i + 1 < n) {
                put(b, ",", 1);
                indent(b, flags, depth + 1, 1);
            } else {
                indent(b, flags, depth, 0);
            }
        }
        put(b, "]", 1);
        break;
    }
    case JSON_OBJECT: {
        /* jansson 2.14 keeps an object's keys in insertion order, which json_dumps() follows */
        void *it = json_object_iter((json_t *)j);
        if (!it) {
            puts_(b, "{}");
            break;
        }
        put(b, "{", 1);
        indent(b, flags, depth + 1, 0);
        while (it) {
            void *next = json_object_iter_next((json_t *)j, it);
            string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            puts_(b, flags & JSON_COMPACT ? ":" : ": ");
            value(b, json_object_iter_value(it), flags, depth + 1);
            if (next) {
                put(b, ",", 1);
                indent(b, flags, depth + 1, 1);
            } else {
                indent(b, flags, depth, 0);
            }
            it = next;
        }
        put(b, "}", 1);
        break;
    }
    default: b->oom = 1; break;
    }
}

char *ent__json_dumps(const json_t *j, size_t flags)
{
    jbuf b = {NULL, 0, 0, 0};
    if (!j) return NULL;
    value(&b, j, flags, 0);
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
