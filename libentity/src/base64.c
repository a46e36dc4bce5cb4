/* RFC 4648 base64. Hand-written because the only Debian libraries offering it pull in much more
 * (glib, OpenSSL), and strict decoding (canonical form only) is what entity JSON needs: a value
 * has exactly one text form, so that JSON round trips are exact. */
#include "base64.h"

#include <stdint.h>
#include <stdio.h>

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ent__b64_enc_len(size_t n) { return (n + 2) / 3 * 4; }

void ent__b64_encode(char *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;
    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *out++ = b64_alpha[v >> 18];
        *out++ = b64_alpha[(v >> 12) & 63];
        *out++ = b64_alpha[(v >> 6) & 63];
        *out++ = b64_alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *out++ = b64_alpha[v >> 18];
        *out++ = b64_alpha[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *out++ = b64_alpha[v >> 18];
        *out++ = b64_alpha[(v >> 12) & 63];
        *out++ = b64_alpha[(v >> 6) & 63];
        *out++ = '=';
    }
    *out = '\0';
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int ent__b64_decode(void *out, size_t *out_len, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char *o = out;
    size_t i, pad = 0;
    *out_len = 0;
    if (n % 4) return -1;
    if (n && s[n - 1] == '=') pad = s[n - 2] == '=' ? 2 : 1;
    for (i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int a = b64_val(s[i]), b = b64_val(s[i + 1]);
        int c = last && pad == 2 ? 0 : b64_val(s[i + 2]);
        int d = last && pad >= 1 ? 0 : b64_val(s[i + 3]);
        uint32_t v;
        if (a < 0 || b < 0 || c < 0 || d < 0) return -1;
        v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        if (last && pad == 2 && (v & 0xffff)) return -1; /* non-zero unused bits */
        if (last && pad == 1 && (v & 0xff)) return -1;
        *o++ = (unsigned char)(v >> 16);
        if (!(last && pad == 2)) *o++ = (unsigned char)(v >> 8);
        if (!(last && pad >= 1)) *o++ = (unsigned char)v;
    }
    *out_len = (size_t)(o - (unsigned char *)out);
    return 0;
}

const char *ent__b64_why(char *buf, size_t size, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i;
    for (i = 0; i < n; i++) {
        if (b64_val(s[i]) >= 0 || s[i] == '=') continue;
        /* the byte as it reads: a printable one in quotes, any other by its value */
        if (s[i] > 0x20 && s[i] < 0x7f && s[i] != '\'')
            snprintf(buf, size, "'%c' at byte %zu is not of its alphabet (A-Z, a-z, 0-9, '+', '/'%s)", s[i], i + 1,
                     s[i] == '-' || s[i] == '_' ? "; base64url's '-' and '_' are not taken" : "");
        else
            snprintf(buf, size, "byte %zu (0x%02x) is not of its alphabet (A-Z, a-z, 0-9, '+', '/'%s)", i + 1, s[i],
                     s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? "; no blanks or line breaks" : "");
        return buf;
    }
    if (n % 4) {
        snprintf(buf, size, "its length %zu is not a multiple of 4 (padded with '=' to one)", n);
        return buf;
    }
    for (i = 0; i < n; i++)
        if (s[i] == '=' && !(i + 1 == n || (i + 2 == n && s[n - 1] == '='))) {
            snprintf(buf, size, "'=' at byte %zu: padding goes only at its end, at most two", i + 1);
            return buf;
        }
    snprintf(buf, size, "the bits after its last byte are not zero (not the one text of its bytes)");
    return buf;
}
