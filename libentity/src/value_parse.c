/* Values of index look-ups as a command line gives them (ent_value_parse). */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "error_int.h"
#include "keys.h"
#include "rfc3339.h"
#include "store_int.h"

/* Digits, after one '-' where allowed: strtoll()/strtoull() also take leading blanks and '+',
 * and strtoull() turns " -5" into 2^64 - 5. */
static int plain_int(const char *t, int neg_ok)
{
    if (neg_ok && t[0] == '-') t++;
    return isdigit((unsigned char)t[0]);
}

/* The "C" locale, for strtod_l(): strtod() reads the decimal point of the host's LC_NUMERIC, and a
 * host that called setlocale(LC_ALL, "") under LANG=de_DE.UTF-8 had "1.5" refused as not a number
 * and "1,5" read as 1.5 (found by a host program; tests/test_value_parse.c). Made once and kept:
 * newlocale() allocates, and a value parse is on the CLI's and the HTTP server's path. A failed
 * newlocale() is tried again by the next call; of two threads that made one, the loser frees its. */
static _Atomic(locale_t) c_locale;

static locale_t numeric_c_locale(void)
{
    locale_t l = atomic_load(&c_locale), expected = (locale_t)0;
    if (l) return l;
    if (!(l = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0))) return (locale_t)0;
    if (!atomic_compare_exchange_strong(&c_locale, &expected, l)) {
        freelocale(l);
        l = expected;
    }
    return l;
}

/* Bytes go into the caller's buffer, not a library one: a thread-local buffer was overwritten by
 * the next call, so the two bounds of a range parsed one after the other aliased each other. */
int ent_value_parse(ent_value *out, void *buf, size_t buf_size, const ent_field *f, const char *text)
{
    char path[160];
    char *end = NULL;
    ent_kind kind;
    if (!out || !f || !text)
        return ent__err(ENT_INVALID, "ent_value_parse: %s is NULL", !out ? "out" : !f ? "field" : "text");
    ent__field_path(f, path, sizeof path);
    memset(out, 0, sizeof *out);
    kind = f->kind;
    if (kind == ENT_KIND_REF) {
        if (!f->ref_type) return ent__err(ENT_INVALID, "%s: schema not checked", path);
        kind = f->ref_type->key == ENT_KEY_AUTO ? ENT_KIND_UINT : ENT_KIND_STRING;
    }
    errno = 0;
    switch (kind) {
    case ENT_KIND_BOOL:
        if (strcmp(text, "true") && strcmp(text, "false"))
            return ent__err(ENT_INVALID, "%s: \"%s\" is not true or false", path, text);
        *out = ent_value_bool(text[0] == 't');
        return ENT_OK;
    case ENT_KIND_INT: {
        long long v = strtoll(text, &end, 10);
        if (!plain_int(text, 1) || *end || errno) return ent__err(ENT_INVALID, "%s: \"%s\" is not an int64", path, text);
        *out = ent_value_int(v);
        return ENT_OK;
    }
    case ENT_KIND_UINT: {
        unsigned long long v;
        if (!plain_int(text, 0)) return ent__err(ENT_INVALID, "%s: \"%s\" is not a uint64", path, text);
        v = strtoull(text, &end, 10);
        if (*end || errno) return ent__err(ENT_INVALID, "%s: \"%s\" is not a uint64", path, text);
        *out = ent_value_uint(v);
        return ENT_OK;
    }
    case ENT_KIND_FLOAT: {
        /* decimal as the other numbers: strtod() also takes a leading '+' and hex ("0x10" = 16).
         * ERANGE on a finite result is underflow: a subnormal ("5e-324", as the tool prints one)
         * or a zero, the double the JSON reader makes of the same text; only overflow is refused. */
        double v;
        if (!strcmp(text, "NaN")) { /* as entity JSON writes it (and an index holds it: above +inf) */
            *out = ent_value_float(NAN);
            return ENT_OK;
        }
        locale_t c = numeric_c_locale();
        if (!c) return ent__err(ENT_NOMEM, "%s: no memory for the C locale to read a number in", path);
        errno = 0;
        v = strtod_l(text, &end, c);
        if (!*text || isspace((unsigned char)text[0]) || text[0] == '+' || strpbrk(text, "xX") || *end ||
            (errno && !(errno == ERANGE && isfinite(v))) || isnan(v) ||
            /* "inf", "INF", "infinity": strtod's spellings, not JSON's; "nan" was refused */
            (isinf(v) && strcmp(text, "Infinity") && strcmp(text, "-Infinity")))
            return ent__err(ENT_INVALID, "%s: \"%s\" is not a number (infinities are Infinity and -Infinity, as entity JSON writes them)", path, text);
        *out = ent_value_float(v);
        return ENT_OK;
    }
    case ENT_KIND_TIMESTAMP: {
        long long v = strtoll(text, &end, 10);
        int64_t ns;
        if (plain_int(text, 1) && !*end && !errno) {
            *out = ent_value_timestamp(v);
            return ENT_OK;
        }
        switch (ent__ts_parse(&ns, text, strlen(text))) {
        case 0: break;
        case -2: return ent__err(ENT_INVALID, "%s: \"%s\" is out of range (" ENT__TS_RANGE ")", path, text);
        default:
            return ent__err(ENT_INVALID, "%s: \"%s\" is neither an RFC 3339 time (%s) nor ns since the epoch", path, text,
                            ent__ts_why(text, strlen(text)));
        }
        *out = ent_value_timestamp(ns);
        return ENT_OK;
    }
    case ENT_KIND_STRING:
        *out = ent_value_string(text);
        return ENT_OK;
    case ENT_KIND_BYTES: {
        size_t n = strlen(text), len = 0, need = n / 4 * 3;
        /* The decoder reads the padding first and writes exactly the bytes decoded: "AAECAw=="
         * (4 bytes) fits a buffer of 4, which n / 4 * 3 refused as "6 bytes (at most)". */
        if (n % 4 == 0 && n >= 4 && text[n - 1] == '=') need -= text[n - 2] == '=' ? 2 : 1;
        if (!buf || need > buf_size) /* named as too long for an index, where it is */
            return ent__err(ENT_INVALID, "%s: \"%.40s\" decodes to %zu bytes, more than a buffer of %zu bytes holds%s",
                            path, text, need, buf ? buf_size : 0,
                            buf && buf_size >= ENT_VALUE_PARSE_BUF_SIZE ? " (an index value holds at most 510)" : "");
        if (ent__b64_decode(buf, &len, text, n) != 0) {
            char q[80], why[160];
            return ent__err(ENT_INVALID, "%s: %s is not base64: %s", path, ent__quote(q, sizeof q, text, n, 40),
                            ent__b64_why(why, sizeof why, text, n));
        }
        *out = ent_value_bytes(buf, len);
        return ENT_OK;
    }
    default:
        return ent__err(ENT_INVALID, "%s: %s %s has no single value to look up", path, ent__a(ent_kind_name(f->kind)), ent_kind_name(f->kind));
    }
}
