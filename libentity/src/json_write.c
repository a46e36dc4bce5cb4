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

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int reads_back(const char *text, double d)
{
    double back = strtod(text, NULL); /* in the same locale as the snprintf that wrote text */
    return memcmp(&back, &d, sizeof d) == 0;
}

/* d as m / 10^k with a whole m of at most 15 digits and k <= 9, when IEEE division of the two
 * (both exact) gives back d: then the decimal text of m * 10^-k reads back to d too (strtod
 * rounds as the division does), and by the DBL_DIG argument below it is d's shortest text.
 * Prices, quantities and ratios are such numbers, and this costs a few multiplications instead
 * of a formatted print. out: the significant digits (no trailing zeros) and the decimal exponent
 * of the first, as "%e" would print them. Returns 0 when d is not such a number. */
static int short_decimal(char digits[24], int *nd, int *exp10, double d)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    for (int k = 0; k < 10; k++) {
        double m = nearbyint(d * p10[k]);
        if (!(fabs(m) < 1e15)) return 0; /* larger k only grows it (and NaN, inf stop here) */
        if (m / p10[k] == d) {
            uint64_t u = (uint64_t)fabs(m);
            char t[24];
            int n = 0;
            do t[n++] = (char)('0' + u % 10);
            while (u /= 10);
            int z = 0;
            *exp10 = n - 1 - k;
            while (z < n - 1 && t[z] == '0') z++; /* m's trailing zeros (t holds m reversed) */
            for (int i = 0; i < n - z; i++) digits[i] = t[n - 1 - i];
            *nd = n - z;
            return 1;
        }
    }
    return 0;
}

size_t ent__json_real(char *buf, double d)
{
    char sci[40], digits[24], *e, *o = buf;
    int prec, x, nd = 0;
    /* Not JSON numbers: the words entity JSON writes them as (quoted there). Messages print
     * values through here, and the digit search below gave "0.0" for all three. */
    if (!isfinite(d)) {
        const char *w = isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
        size_t n = strlen(w);
        memcpy(buf, w, n + 1);
        return n;
    }
    /* The fewest significant digits that read back to d: "%.*e" rounds correctly, so the first
     * precision that round-trips gives the closest such decimal (the one Python's repr() picks).
     * That loop, one print and one strtod() per digit, was most of an event's JSON (the relay
     * prints one per event), so normal doubles take short cuts with the same result. The DBL_DIG
     * argument: a decimal of at most 15 significant digits survives text -> double -> 15-digit
     * text unchanged, so when some text of k <= 15 digits reads back to d, d rounded to 15 digits
     * is exactly that text followed by zeros: it is the shortest and closest (any other would be
     * the 15-digit rounding too), found by short_decimal() or by stripping the zeros of "%.14e";
     * when the 15-digit text does not read back, no shorter one does, and 16, 17 are tried.
     * Subnormals hold fewer digits than 15, so they take the loop. tests/test_json_write.c
     * compares the result with the loop's on 300,000 values. */
    if (short_decimal(digits, &nd, &x, d)) {
        /* found without formatting */
    } else if (fabs(d) >= DBL_MIN) {
        snprintf(sci, sizeof sci, "%.*e", DBL_DIG - 1, d);
        if (reads_back(sci, d)) {
            char *end = strchr(sci, 'e'), *z = end;
            while (z[-1] == '0') z--;
            while (!is_digit(z[-1])) z--; /* all zeros: no decimal point either */
            memmove(z, end, strlen(end) + 1);
        } else {
            for (prec = DBL_DIG + 1; prec <= 17; prec++) {
                snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
                if (reads_back(sci, d)) break;
            }
        }
    } else {
        for (prec = 1; prec <= 17; prec++) {
            snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
            if (reads_back(sci, d)) break;
        }
    }
    if (!nd) {
        e = strchr(sci, 'e');
        x = e ? atoi(e + 1) : 0;
        for (char *p = sci; p < e; p++)
            if (is_digit(*p)) digits[nd++] = *p;
    }
    if (signbit(d)) *o++ = '-';
    if (x >= -4 && x < 16) {
        /* plain notation, as people write prices and ratios: 100.0, 0.99, 0.0001. The digits of
         * "%.*e" placed around the point: they are what "%.*f" with prec - 1 - x decimals would
         * print (the same rounding position), without formatting d a second time. */
        if (x < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = -1; i > x; i--) *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else {
            for (int i = 0; i <= x; i++) *o++ = i < nd ? digits[i] : '0';
            if (nd > x + 1) {
                *o++ = '.';
                memcpy(o, digits + x + 1, (size_t)(nd - x - 1));
                o += nd - x - 1;
            } else {
                /* A real keeps a '.', or it would read back as an integer. */
                memcpy(o, ".0", 2);
                o += 2;
            }
        }
        *o = '\0';
    } else {
        /* exponent notation the way jansson writes it: no '+', no leading zeros (1e20, 5e-324);
         * JSON's decimal point whatever the host's locale (as jansson does) */
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        *o++ = 'e';
        if (x < 0) *o++ = '-';
        o += snprintf(o, 8, "%d", x < 0 ? -x : x);
    }
    return (size_t)(o - buf);
}

void ent__jb_put(ent__jbuf *b, const char *s, size_t n)
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

static void put(ent__jbuf *b, const char *s, size_t n) { ent__jb_put(b, s, n); }
static void puts_(ent__jbuf *b, const char *s) { put(b, s, strlen(s)); }

void ent__jb_u64(ent__jbuf *b, uint64_t u)
{
    char d[24], *p = d + sizeof d;
    do *--p = (char)('0' + u % 10);
    while (u /= 10);
    put(b, p, (size_t)(d + sizeof d - p));
}

void ent__jb_i64(ent__jbuf *b, int64_t i)
{
    if (i < 0) {
        put(b, "-", 1);
        ent__jb_u64(b, 0 - (uint64_t)i); /* INT64_MIN too */
    } else {
        ent__jb_u64(b, (uint64_t)i);
    }
}

void ent__jb_real(ent__jbuf *b, double d)
{
    char num[40];
    put(b, num, ent__json_real(num, d));
}

/* jansson's dump_indent(): a newline and depth * indent blanks, or a blank after a separator
 * when not compact. */
static void indent(ent__jbuf *b, size_t flags, int depth, int space)
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
void ent__jb_string(ent__jbuf *b, const char *s, size_t n)
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

static void value(ent__jbuf *b, const json_t *j, size_t flags, int depth)
{
    switch (json_typeof(j)) {
    case JSON_NULL: puts_(b, "null"); break;
    case JSON_TRUE: puts_(b, "true"); break;
    case JSON_FALSE: puts_(b, "false"); break;
    case JSON_INTEGER: ent__jb_i64(b, (int64_t)json_integer_value(j)); break;
    case JSON_REAL: ent__jb_real(b, json_real_value(j)); break;
    case JSON_STRING: ent__jb_string(b, json_string_value(j), json_string_length(j)); break;
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
            ent__jb_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
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

void ent__jb_json(ent__jbuf *b, const json_t *j, size_t flags)
{
    if (j) value(b, j, flags, 0);
    else b->oom = 1;
}

char *ent__json_dumps(const json_t *j, size_t flags)
{
    ent__jbuf b = ENT__JBUF_INIT;
    if (!j) return NULL;
    value(&b, j, flags, 0);
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
