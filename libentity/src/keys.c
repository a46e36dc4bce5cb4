/* Order-preserving key encodings (see keys.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"

/* Big-endian by shifts that gcc and clang turn into one byte swap (the byte loop cost ~50
 * instructions per key: every create encodes two). */
void ent__enc_u64(uint8_t out[8], uint64_t v)
{
    out[0] = (uint8_t)(v >> 56);
    out[1] = (uint8_t)(v >> 48);
    out[2] = (uint8_t)(v >> 40);
    out[3] = (uint8_t)(v >> 32);
    out[4] = (uint8_t)(v >> 24);
    out[5] = (uint8_t)(v >> 16);
    out[6] = (uint8_t)(v >> 8);
    out[7] = (uint8_t)v;
}

uint64_t ent__dec_u64(const uint8_t in[8])
{
    return (uint64_t)in[0] << 56 | (uint64_t)in[1] << 48 | (uint64_t)in[2] << 40 | (uint64_t)in[3] << 32 |
           (uint64_t)in[4] << 24 | (uint64_t)in[5] << 16 | (uint64_t)in[6] << 8 | in[7];
}

void ent__enc_i64(uint8_t out[8], int64_t v)
{
    ent__enc_u64(out, (uint64_t)v ^ ((uint64_t)1 << 63));
}

void ent__enc_f64(uint8_t out[8], double v)
{
    uint64_t bits;
    if (v == 0) v = 0; /* -0.0 and 0.0 are one value */
    if (isnan(v)) v = NAN;
    memcpy(&bits, &v, sizeof bits);
    if (bits >> 63)
        bits = ~bits;
    else
        bits |= (uint64_t)1 << 63;
    ent__enc_u64(out, bits);
}

int ent__pk_encode(ent_buf *b, const ent_key *key)
{
    if (key->kind == ENT_KEY_AUTO) {
        uint8_t k[8];
        ent__enc_u64(k, key->id);
        return ent__buf_append(b, k, 8);
    }
    if (key->kind == ENT_KEY_STRING && !key->str) return ent__err(ENT_INVALID, "string key is NULL");
    if (key->kind == ENT_KEY_STRING && key->len >= 1 && key->len <= ENT_KEY_STRING_MAX)
        return ent__buf_append(b, key->str, key->len);
    if (key->kind == ENT_KEY_STRING)
        return ent__err(ENT_INVALID, "a string key is 1 to %d bytes, not %zu", ENT_KEY_STRING_MAX, key->len);
    return ent__err(ENT_INVALID, "no key given");
}

int ent__pk_decode(ent_key *out, ent_key_kind kk, const void *p, size_t n)
{
    memset(out, 0, sizeof *out);
    if (kk == ENT_KEY_AUTO) {
        if (n != 8) return ent__err(ENT_CORRUPT, "primary key of %zu bytes, expected 8", n);
        out->kind = ENT_KEY_AUTO;
        out->id = ent__dec_u64(p);
        return ENT_OK;
    }
    if (n < 1 || n > ENT_KEY_STRING_MAX)
        return ent__err(ENT_CORRUPT, "string primary key of %zu bytes", n);
    out->kind = ENT_KEY_STRING;
    out->str = p;
    out->len = n;
    return ENT_OK;
}

static int ikey_scalar(ent_buf *b, ent_kind kind, int ek, int64_t i, uint64_t u, double f,
                       const void *p, size_t n)
{
    uint8_t k[8];
    (void)ek;
    switch (kind) {
    case ENT_KIND_BOOL:
        k[0] = (uint8_t)(i != 0);
        return ent__buf_append(b, k, 1);
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP:
        ent__enc_i64(k, i);
        return ent__buf_append(b, k, 8);
    case ENT_KIND_UINT:
        ent__enc_u64(k, u);
        return ent__buf_append(b, k, 8);
    case ENT_KIND_FLOAT:
        ent__enc_f64(k, f);
        return ent__buf_append(b, k, 8);
    case ENT_KIND_STRING:
    case ENT_KIND_BYTES: {
        int rc;
        k[0] = 0;
        if ((rc = ent__buf_append(b, k, 1))) return rc;
        return ent__buf_append(b, p, n);
    }
    default:
        return ent__err(ENT_INVALID, "kind %s cannot be indexed", ent_kind_name(kind));
    }
}

int ent__ikey_from_val(ent_buf *b, const struct ent_field *f, const ent_val *v)
{
    char path[160];
    if (f->kind == ENT_KIND_REF) {
        ent_key key;
        memset(&key, 0, sizeof key);
        if (v->k == EV_UINT && f->ref_type->key == ENT_KEY_AUTO) {
            key.kind = ENT_KEY_AUTO;
            key.id = v->u.u;
        } else if (v->k == EV_STR && f->ref_type->key == ENT_KEY_STRING) {
            key.kind = ENT_KEY_STRING;
            key.str = v->u.s.p;
            key.len = v->u.s.n;
        } else {
            return ent__err(ENT_INVALID, "%s: value does not fit a ref to %s",
                            ent__field_path(f, path, sizeof path), f->ref_type->name);
        }
        {
            int rc = ent__pk_encode(b, &key);
            if (rc == ENT_NOMEM) return rc; /* out of memory is no invalid key */
            if (rc)
                return ent__err(ENT_INVALID, "%s: invalid key of %s",
                                ent__field_path(f, path, sizeof path), f->ref_type->name);
        }
        return ENT_OK;
    }
    switch (v->k) {
    case EV_BOOL:
        if (f->kind == ENT_KIND_BOOL) return ikey_scalar(b, f->kind, v->k, v->u.b, 0, 0, NULL, 0);
        break;
    case EV_INT:
        if (f->kind == ENT_KIND_INT) return ikey_scalar(b, f->kind, v->k, v->u.i, 0, 0, NULL, 0);
        break;
    case EV_TS:
        if (f->kind == ENT_KIND_TIMESTAMP)
            return ikey_scalar(b, f->kind, v->k, v->u.i, 0, 0, NULL, 0);
        break;
    case EV_UINT:
        if (f->kind == ENT_KIND_UINT) return ikey_scalar(b, f->kind, v->k, 0, v->u.u, 0, NULL, 0);
        break;
    case EV_FLOAT:
        if (f->kind == ENT_KIND_FLOAT) return ikey_scalar(b, f->kind, v->k, 0, 0, v->u.f, NULL, 0);
        break;
    case EV_STR:
        if (f->kind == ENT_KIND_STRING)
            return ikey_scalar(b, f->kind, v->k, 0, 0, 0, v->u.s.p, v->u.s.n);
        break;
    case EV_BIN:
        if (f->kind == ENT_KIND_BYTES)
            return ikey_scalar(b, f->kind, v->k, 0, 0, 0, v->u.s.p, v->u.s.n);
        break;
    default:
        break;
    }
    return ent__err(ENT_INVALID, "%s: value of the wrong kind for the index",
                    ent__field_path(f, path, sizeof path));
}

/* The least double >= i (u): (double)i rounds to the nearest, which may lie below. *inexact: set
 * when it is not i itself. */
static double ceil_double_i(int64_t i, int *inexact)
{
    double d = (double)i;
    int64_t t;
    if (d >= 9223372036854775808.0) { /* only i near INT64_MAX rounds up to 2^63 */
        *inexact = 1;
        return d;
    }
    t = (int64_t)d;
    if (t == i) return d;
    *inexact = 1;
    return t < i ? nextafter(d, INFINITY) : d;
}

static double ceil_double_u(uint64_t u, int *inexact)
{
    double d = (double)u;
    uint64_t t;
    if (d >= 18446744073709551616.0) {
        *inexact = 1;
        return d;
    }
    t = (uint64_t)d;
    if (t == u) return d;
    *inexact = 1;
    return t < u ? nextafter(d, INFINITY) : d;
}

int ent__ikey_matches(const struct ent_field *f, const ent_val *v, const void *ik, size_t n)
{
    /* ent__ikey_from_val()'s encodings, compared in place: this runs for every entity an index
     * look-up returns, and building the key in a buffer cost that ~170 instructions each. */
    uint8_t k[8];
    const uint8_t *q = ik;
    size_t kn = 8;
    if (f->kind == ENT_KIND_REF) {
        if (v->k == EV_UINT && f->ref_type->key == ENT_KEY_AUTO) {
            ent__enc_u64(k, v->u.u);
        } else if (v->k == EV_STR && f->ref_type->key == ENT_KEY_STRING) {
            return v->u.s.n == n && memcmp(v->u.s.p, ik, n) == 0;
        } else {
            return 0;
        }
        return n == 8 && memcmp(k, ik, 8) == 0;
    }
    switch (v->k) {
    case EV_BOOL:
        if (f->kind != ENT_KIND_BOOL) return 0;
        return n == 1 && q[0] == (uint8_t)(v->u.b != 0);
    case EV_INT:
    case EV_TS:
        if (f->kind != (v->k == EV_INT ? ENT_KIND_INT : ENT_KIND_TIMESTAMP)) return 0;
        ent__enc_i64(k, v->u.i);
        break;
    case EV_UINT:
        if (f->kind != ENT_KIND_UINT) return 0;
        ent__enc_u64(k, v->u.u);
        break;
    case EV_FLOAT:
        if (f->kind != ENT_KIND_FLOAT) return 0;
        ent__enc_f64(k, v->u.f);
        break;
    case EV_STR:
    case EV_BIN:
        if (f->kind != (v->k == EV_STR ? ENT_KIND_STRING : ENT_KIND_BYTES)) return 0;
        return n == v->u.s.n + 1 && q[0] == 0 && memcmp(q + 1, v->u.s.p, v->u.s.n) == 0;
    default:
        return 0;
    }
    return n == kn && memcmp(k, ik, kn) == 0;
}

int ent__ikey_from_value(ent_buf *b, const struct ent_field *f, const ent_value *v, int *inexact)
{
    ent_val tmp;
    char path[160];
    memset(&tmp, 0, sizeof tmp);
    *inexact = 0;
    /* Accept the natural neighbours a caller may hold: an int for a timestamp and vice versa, a
     * non-negative int for a uint, any integer for a float. */
    switch (f->kind == ENT_KIND_REF ? (f->ref_type->key == ENT_KEY_AUTO ? ENT_KIND_UINT
                                                                         : ENT_KIND_STRING)
                                    : f->kind) {
    case ENT_KIND_BOOL:
        if (v->kind != ENT_KIND_BOOL) goto wrong;
        tmp.k = EV_BOOL;
        tmp.u.b = v->v.b != 0;
        break;
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP:
        if (v->kind == ENT_KIND_INT || v->kind == ENT_KIND_TIMESTAMP)
            tmp.u.i = v->v.i;
        else if (v->kind == ENT_KIND_UINT && v->v.u <= INT64_MAX)
            tmp.u.i = (int64_t)v->v.u;
        else
            goto wrong;
        tmp.k = f->kind == ENT_KIND_INT ? EV_INT : EV_TS;
        break;
    case ENT_KIND_UINT:
        if (v->kind == ENT_KIND_UINT)
            tmp.u.u = v->v.u;
        else if (v->kind == ENT_KIND_INT && v->v.i >= 0)
            tmp.u.u = (uint64_t)v->v.i;
        else
            goto wrong;
        tmp.k = EV_UINT;
        break;
    case ENT_KIND_FLOAT:
        if (v->kind == ENT_KIND_FLOAT)
            tmp.u.f = v->v.f;
        else if (v->kind == ENT_KIND_INT)
            tmp.u.f = ceil_double_i(v->v.i, inexact);
        else if (v->kind == ENT_KIND_UINT)
            tmp.u.f = ceil_double_u(v->v.u, inexact);
        else
            goto wrong;
        tmp.k = EV_FLOAT;
        break;
    case ENT_KIND_STRING:
    case ENT_KIND_BYTES:
        if (v->kind != ENT_KIND_STRING && v->kind != ENT_KIND_BYTES) goto wrong;
        tmp.k = f->kind == ENT_KIND_BYTES ? EV_BIN : EV_STR;
        tmp.u.s.p = (char *)(uintptr_t)v->v.s.ptr;
        tmp.u.s.n = v->v.s.len;
        break;
    default:
        goto wrong;
    }
    return ent__ikey_from_val(b, f, &tmp);
wrong:
    {
        const char *vk = ent_kind_name(v->kind);
        int fk = f->kind == ENT_KIND_REF ? (f->ref_type->key == ENT_KEY_AUTO ? ENT_KIND_UINT : ENT_KIND_STRING)
                                         : f->kind;
        /* A neighbouring kind refused for its value, not its kind: saying that an int "cannot be
         * compared" with a uint field sent a host away from the ints it may pass (0 and up). */
        if (v->kind == ENT_KIND_INT && fk == ENT_KIND_UINT)
            return ent__err(ENT_INVALID, "%s: int value %lld is negative: this %s field takes an int from 0 up (a uint cannot be below 0)",
                            ent__field_path(f, path, sizeof path), (long long)v->v.i, ent_kind_name(f->kind));
        if (v->kind == ENT_KIND_UINT && (fk == ENT_KIND_INT || fk == ENT_KIND_TIMESTAMP))
            return ent__err(ENT_INVALID, "%s: uint value %llu is over 2^63-1: this %s field takes a uint up to 9223372036854775807 (an int64's greatest)",
                            ent__field_path(f, path, sizeof path), (unsigned long long)v->v.u, ent_kind_name(f->kind));
        if (!vk)
            return ent__err(ENT_INVALID, "%s: value of unknown kind %d", ent__field_path(f, path, sizeof path),
                            (int)v->kind);
        return ent__err(ENT_INVALID, "%s: %s %s value cannot be compared with this %s field",
                        ent__field_path(f, path, sizeof path), ent__a(vk), vk, ent_kind_name(f->kind));
    }
}

/* Bytes of the UTF-8 character at s (n bytes left), or 0 when s holds none. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    size_t l = s[0] < 0x80 ? 1 : s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
    if (l == 0 || l > n) return 0;
    for (size_t i = 1; i < l; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, a surrogate, past U+10FFFF */
    return l;
}

/* p[0..n) quoted for a message: at most max bytes of it, cut on a character boundary and then
 * marked "..."; '"', '\\' and control characters escaped as JSON writes them, and a byte that is
 * not UTF-8 (only damaged data holds one) written \xNN. Messages go into JSON (serve): a NUL would
 * cut the value short and name another one, and a cut inside a character is not UTF-8. */
const char *ent__quote(char *buf, size_t size, const char *p, size_t n, size_t max)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t o = 0, i = 0;
    if (size < 8) {
        if (size) buf[0] = '\0';
        return buf;
    }
    size_t lim = size - 5; /* room for "...", the closing quote and the NUL */
    buf[o++] = '"';
    while (i < n) {
        size_t l = utf8_char(s + i, n - i), el = 0;
        char esc[8];
        if (l == 0)
            el = (size_t)snprintf(esc, sizeof esc, "\\x%02x", s[i]);
        else if (l == 1 && (s[i] < 0x20 || s[i] == '"' || s[i] == '\\'))
            el = (size_t)snprintf(esc, sizeof esc, s[i] == '"' ? "\\\"" : s[i] == '\\' ? "\\\\" : "\\u%04x", s[i]);
        size_t adv = el ? 1 : l, out = el ? el : l;
        if (i + adv > max || o + out > lim) break;
        memcpy(buf + o, el ? (const void *)esc : (const void *)(s + i), out);
        o += out;
        i += adv;
    }
    if (i < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *ent__key_str(const ent_key *key, char *buf, size_t size)
{
    if (key->kind == ENT_KEY_AUTO)
        snprintf(buf, size, "%" PRIu64, key->id);
    else if (key->kind == ENT_KEY_STRING)
        ent__quote(buf, size, key->str, key->len, 200);
    else
        snprintf(buf, size, "(none)");
    return buf;
}
