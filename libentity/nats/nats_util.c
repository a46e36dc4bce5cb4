/* Connecting to NATS, error texts and state lines for the relay and the mirror. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "nats_util.h"

#ifdef ENT_HAVE_LIBCRYPTO
#include <openssl/crypto.h>
#include <openssl/evp.h>
#endif

/* url as messages show it (ent_nats__url_shown): a refused URL was named with its password. */
static const char *shown(char *buf, size_t size, const char *url)
{
    ent_nats__url_shown(buf, size, url);
    return buf;
}

/* The same of the first len bytes of s. */
static const char *shown_n(char *buf, size_t size, const char *s, size_t len)
{
    char *copy = strndup(s, len);
    if (!copy) return "(out of memory)";
    ent_nats__url_shown(buf, size, copy);
    free(copy);
    return buf;
}

/* The servers of a URL list "a,b, c": each one without the blanks around it. */
static int split_urls(char bufs[ENATS_URLS_MAX][ENATS_URL_MAX], int *out_n, const char *url)
{
    char sh[1024];
    int n = 0;
    const char *p = url;
    *out_n = 0;
    for (;;) {
        const char *end = strchr(p, ','), *b, *e;
        if (!end) end = p + strlen(p);
        for (b = p; b < end && (*b == ' ' || *b == '\t'); b++) {
        }
        for (e = end; e > b && (e[-1] == ' ' || e[-1] == '\t'); e--) {
        }
        if (n == ENATS_URLS_MAX)
            return ent_error_set(ENT_INVALID, "NATS URL list \"%s\": more than %d servers", shown(sh, sizeof sh, url),
                                 ENATS_URLS_MAX);
        if ((size_t)(e - b) >= ENATS_URL_MAX)
            return ent_error_set(ENT_INVALID, "NATS URL \"%s\" is too long", shown_n(sh, sizeof sh, b, (size_t)(e - b)));
        memcpy(bufs[n], b, (size_t)(e - b));
        bufs[n++][e - b] = '\0';
        if (!*end) break;
        p = end + 1;
    }
    *out_n = n;
    return ENT_OK;
}

int ent_nats__check_url(const char *url)
{
    char sh[1024];
    char urls[ENATS_URLS_MAX][ENATS_URL_MAX];
    int n, rc;
    if (!url || !*url) return ent_error_set(ENT_INVALID, "no NATS URL (--nats nats://HOST:PORT)");
    if ((rc = split_urls(urls, &n, url))) return rc;
    for (int i = 0; i < n; i++) {
        const char *u = urls[i], *p;
        if (!*u) return ent_error_set(ENT_INVALID, "NATS URL list \"%s\" has an empty entry", shown(sh, sizeof sh, url));
        for (p = u; *p; p++)
            if (*p == ' ' || *p == '\t' || *p == '\n')
                return ent_error_set(ENT_INVALID, "NATS URL \"%s\" has white space", shown(sh, sizeof sh, u));
        if (strstr(u, "://") && strncmp(u, "nats://", 7) != 0 && strncmp(u, "tls://", 6) != 0)
            return ent_error_set(ENT_INVALID, "NATS URL \"%s\": the scheme must be nats:// or tls://", shown(sh, sizeof sh, u));
        p = strstr(u, "://") ? strstr(u, "://") + 3 : u;
        if (strrchr(p, '@')) p = strrchr(p, '@') + 1; /* user info: up to the last '@', as libnats reads it */
        if (!*p || *p == ':' || *p == '/')
            return ent_error_set(ENT_INVALID, "NATS URL \"%s\" names no host", shown(sh, sizeof sh, u));
        /* A port the client cannot use (none after the ':', not a number, 0, above 65535) was
         * tried as an outage: "NATS unreachable", retried for ever by a relay or mirror without
         * --once ("invalid port 'abc'", "No server available for connection"). */
        /* So was an IPv6 address whose '[' is not closed ("nats://[::1"), and "[]" */
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (!close || close == p + 1)
                return ent_error_set(ENT_INVALID, "NATS URL \"%s\": %s", shown(sh, sizeof sh, u),
                                     close ? "names no host (an empty IPv6 address, [])"
                                           : "its IPv6 address lacks the closing ] (nats://[::1]:4222)");
            p = close + 1;
            if (*p && *p != ':' && *p != '/')
                return ent_error_set(ENT_INVALID, "NATS URL \"%s\": after its IPv6 address's ] comes %c, not : or /",
                                     shown(sh, sizeof sh, u), *p);
        } else {
            p += strcspn(p, ":/");
        }
        if (*p == ':') {
            size_t len = strcspn(++p, "/");
            unsigned long port = 0;
            for (size_t k = 0; k < len && port <= 65535; k++)
                port = p[k] >= '0' && p[k] <= '9' ? port * 10 + (unsigned long)(p[k] - '0') : 65536;
            if (!len || port < 1 || port > 65535)
                return ent_error_set(ENT_INVALID, "NATS URL \"%s\": the port must be a number from 1 to 65535",
                                     shown(sh, sizeof sh, u));
        }
    }
    return ENT_OK;
}

void ent_nats__url_shown(char *out, size_t size, const char *url)
{
    size_t n = 0;
    const char *p = url ? url : "";
    if (!size) return;
    while (*p && n + 1 < size) {
        const char *end = p + strcspn(p, ","), *host = strstr(p, "://"), *at = NULL, *q;
        host = host && host < end ? host + 3 : p;
        /* the last '@' of the entry: a password may hold '@', and '/' too (libnats reads the
         * user info up to the last '@'; stopping at a '/' printed such a password whole) */
        for (q = host; q < end; q++)
            if (*q == '@') at = q;
        if (at) {
            const char *colon = memchr(host, ':', (size_t)(at - host));
            /* user:password keeps the user; a lone token goes whole */
            const char *keep = colon ? colon + 1 : host;
            n += (size_t)snprintf(out + n, size - n, "%.*s***", (int)(keep - p), p);
            if (n >= size) break;
            p = at;
        }
        n += (size_t)snprintf(out + n, size - n, "%.*s%s", (int)(end - p), p, *end ? "," : "");
        if (n >= size || !*end) break;
        p = end + 1;
    }
    if (n >= size) n = size - 1;
    out[n] = '\0';
}

int ent_nats__check_stream(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    const unsigned char *p;
    if (!n || n > 255)
        return ent_error_set(ENT_INVALID, "stream name \"%.40s%s\": give 1 to 255 bytes", name ? name : "", n > 40 ? "..." : "");
    for (p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p))
            return ent_error_set(ENT_INVALID, "stream name \"%s\": give a name without spaces, dots, *, >, / or \\", name);
    return ENT_OK;
}

int ent_nats__check_id(const char *id)
{
    if (!*id || strlen(id) > ENATS_ID_MAX || strpbrk(id, " .*>"))
        return ent_error_set(ENT_INVALID, "primary id \"%s\" is not a store id", id);
    return ENT_OK;
}

int ent_nats_check(const char *url, const char *stream, const char *primary_id)
{
    int rc;
    if (url && (rc = ent_nats__check_url(url))) return rc;
    if (stream && (rc = ent_nats__check_stream(stream))) return rc;
    if (primary_id && (rc = ent_nats__check_id(primary_id))) return rc;
    return ENT_OK;
}

/* ---- a secured NATS: TLS files, NKey, credentials (ent_nats_auth) ------------------------------ */

static const char *auth_val(const char *v) { return v && *v ? v : NULL; }

/* Wipe a secret (a seed, a private key) before its memory goes. */
static void wipe(void *p, size_t n)
{
#ifdef ENT_HAVE_LIBCRYPTO
    OPENSSL_cleanse(p, n);
#else
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
#endif
}

/* Opens `path` (option `opt`) for reading, a regular file only. A FIFO blocked the run in open()
 * before a word was said, and a pipe or /dev/stdin read once held nothing the next time: each
 * file is read again at each connection (by libnats too), so only a file can be. O_NONBLOCK lets
 * open() of a FIFO return; a regular file ignores it. ENT_IO names the file and why. */
static int auth_open(const char *opt, const char *path, int *fd_out)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), err;
    if (fd < 0) return ent_error_set(ENT_IO, "%s %s: %s", opt, path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return ent_error_set(ENT_IO, "%s %s: %s", opt, path, strerror(err));
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        close(fd);
        return ent_error_set(ENT_IO, "%s %s: not a regular file (a pipe, a device or a socket): it is read again at each "
                             "connection, so give a file", opt, path);
    }
    *fd_out = fd;
    return ENT_OK;
}

/* Whether the file `path`, given as option `opt`, can be opened and read (a directory cannot).
 * ENT_IO names it and why. */
static int auth_file_readable(const char *opt, const char *path)
{
    char c;
    int fd = -1, err, rc; /* (as in read_small) */
    ssize_t n;
    if ((rc = auth_open(opt, path, &fd))) return rc;
    n = read(fd, &c, 1);
    err = errno;
    close(fd);
    if (n < 0) return ent_error_set(ENT_IO, "%s %s: %s", opt, path, strerror(err));
    if (n == 0) return ent_error_set(ENT_IO, "%s %s: the file is empty", opt, path);
    return ENT_OK;
}

/* At most size-1 bytes of a small file (a seed, a .creds file), NUL-terminated. ENT_IO when it
 * cannot be read or is larger. The caller wipes buf. */
static int read_small(char *buf, size_t size, const char *opt, const char *path)
{
    int fd = -1, err = 0, rc; /* (set by auth_open; gcc -Os, inlining it, could not tell) */
    size_t n = 0;
    ssize_t k = 0;
    buf[0] = '\0';
    if ((rc = auth_open(opt, path, &fd))) return rc;
    while (n < size - 1 && (k = read(fd, buf + n, size - 1 - n)) != 0) {
        if (k < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        n += (size_t)k;
    }
    if (!err && n == size - 1) {
        char extra;
        if (read(fd, &extra, 1) == 1) err = EFBIG;
    }
    close(fd);
    buf[n] = '\0';
    if (err == EFBIG) return ent_error_set(ENT_IO, "%s %s: larger than %zu bytes: not a %s", opt, path, size - 1,
                                           !strcmp(opt, "--nkey") ? "seed file" : !strcmp(opt, "--creds") ? ".creds file" : "key file");
    if (err) return ent_error_set(ENT_IO, "%s %s: %s", opt, path, strerror(err));
    return ENT_OK;
}

/* CRC-16/XMODEM, as NKeys check their encoding (nats-io/nkeys crc16.go), stored little-endian. */
static uint16_t nkey_crc16(const unsigned char *d, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(d[i] << 8);
        for (int b = 0; b < 8; b++) crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

#define NKEY_SEED_LEN 58   /* base32 of 2 prefix bytes, 32 bytes of Ed25519 seed, 2 of CRC */
#define NKEY_PUB_LEN 56    /* base32 of 1 prefix byte, 32 bytes of public key, 2 of CRC */
#define NKEY_PREFIX_SEED (18 << 3)
#define NKEY_PREFIX_USER (20 << 3)

/* What ends the line of a key (a seed, a JWT) of len characters at p in the file `path` of option
 * `opt`: its newline or the file's end. libnats reads the line whole, up to its '\n', and could not
 * decode a '\r' (a file saved with CRLF line ends) or a space after the key: "base32: invalid
 * data at location 59" at each connection, retried for ever as an outage. Said here, naming it. */
static int key_line_end(const char *p, size_t len, const char *opt, const char *path, const char *what)
{
    const char *e = p + len;
    if (*e == '\r')
        return ent_error_set(ENT_IO, "%s %s: the line of its %s ends in a carriage return (CRLF line ends, a file saved on "
                             "Windows), which libnats cannot read: save it with LF line ends", opt, path, what);
    if (*e == ' ' || *e == '\t')
        return ent_error_set(ENT_IO, "%s %s: spaces or tabs follow its %s on its line, which libnats cannot read: "
                             "remove them", opt, path, what);
    return ENT_OK;
}

/* A UTF-8 byte-order mark at the start of a file (an editor's): libnats reads the seed's line
 * with it and cannot decode it. */
static int has_bom(const char *text) { return !strncmp(text, "\xef\xbb\xbf", 3); }

/* The user NKey public key ("U...", NKEY_PUB_LEN + 1 bytes) of the seed in file `path`: the
 * first line (of a bare seed file, or of a .creds-like one) that starts with "SU". libnats's
 * natsOptions_SetNKeyFromSeed() needs both, and derives none. ENT_IO names the file and what is
 * wrong with it, never the seed. */
static int nkey_public(char pub[NKEY_PUB_LEN + 1], const char *path)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char text[4096];
    unsigned char raw[40], out[35];
    const char *p, *seed = NULL;
    char kind = 0;
    size_t n = 0, len;
    uint32_t acc = 0;
    int bits = 0, rc;
    if ((rc = read_small(text, sizeof text, "--nkey", path))) {
        wipe(text, sizeof text);
        return rc;
    }
    if (has_bom(text)) {
        rc = ent_error_set(ENT_IO, "--nkey %s: begins with a byte-order mark (UTF-8 BOM), which libnats cannot read: save "
                           "it without one", path);
        goto out;
    }
    for (p = text; *p && !seed; p += strcspn(p, "\n"), p += *p == '\n') {
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (p[0] == 'S' && p[1] == 'U') seed = p;
        /* another kind's seed: the nsc or nk tool's account or operator key, given by mistake */
        else if (!kind && p[0] == 'S' && strspn(p, b32) == NKEY_SEED_LEN) kind = p[1];
    }
    len = seed ? strspn(seed, b32) : 0;
    rc = ENT_OK;
    if (!seed && kind) {
        rc = ent_error_set(ENT_IO, "--nkey %s: holds %s seed (S%c...), not a user's (SU...): --nkey takes the user's seed",
                           path, kind == 'A' ? "an account" : kind == 'O' ? "an operator" : kind == 'N' ? "a server" :
                           kind == 'C' ? "a cluster" : "another kind's", kind);
        goto out;
    }
    if (seed && len == NKEY_SEED_LEN && (rc = key_line_end(seed, len, "--nkey", path, "seed"))) goto out;
    if (!seed || len != NKEY_SEED_LEN) {
        rc = ent_error_set(ENT_IO, "--nkey %s: holds no user NKey seed (a line of %d characters starting with SU)", path,
                           NKEY_SEED_LEN);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 5) | (uint32_t)(strchr(b32, seed[i]) - b32);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n < sizeof raw) raw[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (n != 36 || nkey_crc16(raw, 34) != (uint16_t)(raw[34] | raw[35] << 8) || (raw[0] & 0xf8) != NKEY_PREFIX_SEED ||
        (((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3)) != NKEY_PREFIX_USER) {
        rc = ent_error_set(ENT_IO, "--nkey %s: its seed is damaged (its checksum or prefix is wrong) or not a user's", path);
        goto out;
    }
#ifdef ENT_HAVE_LIBCRYPTO
    {
        EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 2, 32);
        size_t pl = 32;
        uint16_t crc;
        if (!pk || EVP_PKEY_get_raw_public_key(pk, out + 1, &pl) != 1 || pl != 32) {
            EVP_PKEY_free(pk);
            rc = ent_error_set(ENT_IO, "--nkey %s: its public key cannot be derived (libcrypto)", path);
            goto out;
        }
        EVP_PKEY_free(pk);
        out[0] = NKEY_PREFIX_USER;
        crc = nkey_crc16(out, 33);
        out[33] = (unsigned char)(crc & 0xff);
        out[34] = (unsigned char)(crc >> 8);
        n = 0;
        acc = 0;
        bits = 0;
        for (size_t i = 0; i < sizeof out; i++) {
            acc = (acc << 8) | out[i];
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                pub[n++] = b32[(acc >> bits) & 31];
            }
        }
        if (bits) pub[n++] = b32[(acc << (5 - bits)) & 31];
        pub[n] = '\0';
    }
#else
    (void)out;
    rc = ent_error_set(ENT_INVALID, "--nkey %s: this build has no libcrypto (libssl-dev) to derive the seed's public key; "
                       "use --creds, or rebuild with it", path);
#endif
out:
    wipe(text, sizeof text);
    wipe(raw, sizeof raw);
    return rc;
}

/* The first line holding something after the line of `marker` in a .creds file's text: the key
 * (of characters `chars`) must end its line (key_line_end(); libnats reads the seed's line as the
 * bare seed file's, and sends the JWT's line as it is). */
static int creds_line_end(const char *text, const char *marker, const char *chars, const char *path, const char *what)
{
    const char *p = strstr(text, marker) + strlen(marker);
    p += strcspn(p, "\n");
    while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t') p++;
    return key_line_end(p, strspn(p, chars), "--creds", path, what);
}

/* base64url without padding (a JWT's parts) into out (room for n * 3 / 4 + 1 bytes), NUL-ended;
 * -1 on a character outside the alphabet. */
static long b64url_decode(unsigned char *out, const char *in, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    int bits = 0;
    long k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = in[i] ? strchr(abc, in[i]) : NULL;
        if (!c) return -1;
        acc = (acc << 6) | (uint32_t)(c - abc);
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[k++] = (unsigned char)(acc >> bits);
        }
    }
    out[k] = '\0';
    return k;
}

/* The "exp" claim (seconds since the epoch) of the user JWT of a .creds file's text: 1 and *out
 * when it has one, 0 when it has none or its claims cannot be read (the server judges those). */
static int creds_jwt_exp(int64_t *out, const char *text)
{
    const char *p = strstr(text, "-----BEGIN NATS USER JWT-----"), *dot1, *dot2;
    unsigned char *claims;
    json_t *j, *exp;
    int found = 0;
    if (!p) return 0;
    p += strlen("-----BEGIN NATS USER JWT-----");
    p += strspn(p, "\r\n \t");
    dot1 = p + strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    if (*dot1 != '.') return 0;
    dot2 = dot1 + 1 + strspn(dot1 + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    if (*dot2 != '.' || !(claims = malloc((size_t)(dot2 - dot1) + 1))) return 0;
    if (b64url_decode(claims, dot1 + 1, (size_t)(dot2 - dot1 - 1)) > 0 &&
        (j = json_loads((const char *)claims, 0, NULL))) {
        exp = json_object_get(j, "exp");
        if (json_is_integer(exp) && json_integer_value(exp) > 0) {
            *out = (int64_t)json_integer_value(exp);
            found = 1;
        }
        json_decref(j);
    }
    free(claims);
    return found;
}

static void rfc3339_utc(char buf[32], int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(buf, 32, "%" PRId64 " (Unix time)", t);
}

/* " (the user JWT in FILE expired at T)" or "": what a refusal of the server adds for a .creds
 * file. Read again here: the refusal comes after the connection's own read of the file. (The
 * check before each connection refuses a JWT expired by this machine's clock; what is left is
 * the moment between the two, and a server whose clock is ahead.) */
static void creds_expiry_note(char *out, size_t size, const char *path)
{
    char text[16384];
    int64_t exp = 0;
    out[0] = '\0';
    if (read_small(text, sizeof text, "--creds", path) == ENT_OK && creds_jwt_exp(&exp, text)) {
        char when[32];
        rfc3339_utc(when, exp);
        int64_t left = exp - (int64_t)time(NULL);
        /* expired since the check before connecting; or about to, and the server's clock ahead */
        if (left <= 0)
            snprintf(out, size, " (the user JWT in %s expired at %s)", path, when);
        else if (left < 600)
            snprintf(out, size, " (the user JWT in %s expires at %s, in %" PRId64 " s by this machine's clock: the "
                                "server's clock may be ahead)", path, when, left);
    }
    wipe(text, sizeof text);
}

/* Whether a .creds file holds a user JWT and a seed, as natsOptions_SetUserCredentialsFromFiles()
 * reads it (it says only "invalid argument" at connect time otherwise), and whether that JWT
 * has expired: the server refuses it then, which was said as refused credentials and nothing more. */
static int creds_check(const char *path)
{
    int64_t exp = 0;
    char text[16384];
    int rc;
    if ((rc = read_small(text, sizeof text, "--creds", path))) {
        wipe(text, sizeof text);
        return rc;
    }
    if (!strstr(text, "-----BEGIN NATS USER JWT-----") || !strstr(text, "-----BEGIN USER NKEY SEED-----"))
        rc = ent_error_set(ENT_IO, "--creds %s: not a .creds file (a \"BEGIN NATS USER JWT\" block, then a "
                           "\"BEGIN USER NKEY SEED\" block)", path);
    /* (a '\r' after the JWT went to the server with it: "Authorization Violation") */
    else if (!(rc = creds_line_end(text, "-----BEGIN NATS USER JWT-----",
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", path, "JWT")))
        rc = creds_line_end(text, "-----BEGIN USER NKEY SEED-----", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", path, "seed");
    if (!rc && creds_jwt_exp(&exp, text) && exp <= (int64_t)time(NULL)) {
        char when[32];
        rfc3339_utc(when, exp);
        rc = ent_error_set(ENT_IO, "--creds %s: the user JWT in %s expired at %s (its \"exp\" claim): the server "
                           "refuses it; give a renewed .creds file", path, path, when);
    }
    wipe(text, sizeof text);
    return rc;
}

/* A file of secrets (a seed, a .creds file, a private key) that others than its owner may read or
 * write: ssh refuses such a private key; libnats and the nats CLI take it. Said, not refused: a
 * running deployment is not stopped at an upgrade, and a key 0640 owned by root with a service's
 * group (as PostgreSQL takes its ssl_key_file) is a deliberate choice, not warned about. */
void ent_nats__auth_warn_modes(const ent_nats_auth *a, const char *who, ent_nats_log_cb log, void *payload)
{
    const char *opt[3] = {"--nkey", "--creds", "--tlskey"};
    const char *path[3];
    if (!a) return;
    path[0] = auth_val(a->nkey_seed), path[1] = auth_val(a->creds), path[2] = auth_val(a->tls_key);
    for (int i = 0; i < 3; i++) {
        struct stat st;
        unsigned m;
        if (!path[i] || stat(path[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        m = (unsigned)st.st_mode & 07777;
        if (!(m & 077)) continue;
        if (st.st_uid == 0 && (m & 077) == 040) continue; /* root's, read by a service's group */
        ent_nats__log(log, payload, "%s: warning: %s %s has mode %04o: %s %s it (%s); chmod 600 it%s", who, opt[i],
                      path[i], m, m & 007 ? "every user may" : "its group may", m & 022 ? "replace" : "read",
                      i == 2 ? "the private key of the client's certificate" : "its seed authenticates as its user",
                      m & 022 ? "" : " (or 0640 owned by root, for a group that must read it)");
    }
}

/* A server of url carries a user or token (user info before an '@'). */
static int url_has_user(const char *url)
{
    char urls[ENATS_URLS_MAX][ENATS_URL_MAX];
    int n = 0;
    if (!url || split_urls(urls, &n, url)) return 0;
    for (int i = 0; i < n; i++) {
        const char *h = strstr(urls[i], "://");
        if (strchr(h ? h + 3 : urls[i], '@')) return 1;
    }
    return 0;
}

static int url_has_tls(const char *url)
{
    char urls[ENATS_URLS_MAX][ENATS_URL_MAX];
    int n = 0;
    if (!url || split_urls(urls, &n, url)) return 0;
    for (int i = 0; i < n; i++)
        if (!strncmp(urls[i], "tls://", 6)) return 1;
    return 0;
}

/* libnats's text of its last error, without its "(file.c:123): " */
static const char *nats_text(natsStatus st)
{
    const char *last = nats_GetLastError(NULL);
    if (last && last[0] == '(' && strstr(last, "): ")) last = strstr(last, "): ") + 3;
    return last && *last ? last : natsStatus_GetText(st);
}

/* A private key encrypted with a passphrase: OpenSSL, loading it for libnats, asked for the
 * passphrase on the terminal ("Enter PEM pass phrase:"), a relay waiting there at each connection
 * (or, without one, "processing error"). Nothing here can answer it: refused, named. */
static int key_encrypted(const char *path)
{
    size_t size = 65536;
    char *text = malloc(size);
    int rc;
    if (!text) return ent_error_set(ENT_NOMEM, "out of memory");
    if (!(rc = read_small(text, size, "--tlskey", path)) &&
        (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || strstr(text, "Proc-Type: 4,ENCRYPTED")))
        rc = ent_error_set(ENT_IO, "--tlskey %s: the key is encrypted with a passphrase, which relay and mirror cannot ask "
                           "for: give it decrypted (openssl pkey -in KEY -out PLAIN; mode 0600)", path);
    wipe(text, size);
    free(text);
    return rc;
}

/* Loads auth's TLS files and keys into o (each connect reads them anew: a certificate renewed
 * on disk is taken by the next connection). ENT_IO names the file libnats could not load. */
static int auth_apply(natsOptions *o, const ent_nats_auth *a)
{
    const char *ca = auth_val(a->tls_ca), *cert = auth_val(a->tls_cert), *key = auth_val(a->tls_key);
    const char *host = auth_val(a->tls_hostname), *nkey = auth_val(a->nkey_seed), *creds = auth_val(a->creds);
    natsStatus st;
    int rc;
    if ((ca || cert) && (st = natsOptions_SetSecure(o, true)) != NATS_OK) return ent_nats__err(ENT_IO, st, 0, "TLS");
    if (ca && (st = natsOptions_LoadCATrustedCertificates(o, ca)) != NATS_OK)
        return ent_error_set(ENT_IO, "--tlsca %s: %s", ca, nats_text(st));
    if (key && (rc = key_encrypted(key))) return rc;
    if (cert && key && (st = natsOptions_LoadCertificatesChain(o, cert, key)) != NATS_OK)
        return ent_error_set(ENT_IO, "--tlscert %s, --tlskey %s: %s", cert, key, nats_text(st));
    if (host && (st = natsOptions_SetExpectedHostname(o, host)) != NATS_OK)
        return ent_error_set(ENT_IO, "--tls-hostname %s: %s", host, nats_text(st));
    if (nkey) {
        char pub[NKEY_PUB_LEN + 1];
        if ((rc = nkey_public(pub, nkey))) return rc;
        if ((st = natsOptions_SetNKeyFromSeed(o, pub, nkey)) != NATS_OK)
            return ent_error_set(ENT_IO, "--nkey %s: %s", nkey, nats_text(st));
    }
    /* libnats reads the .creds file only while connecting, and its failure to ("No such file")
     * came back as an outage: a relay retried it for ever, every 2 s, without a line. Read here,
     * as the seed of --nkey is, it is a file gone or changed: said, and the run ends. */
    if (creds && (rc = creds_check(creds))) return rc;
    if (creds && (st = natsOptions_SetUserCredentialsFromFiles(o, creds, NULL)) != NATS_OK)
        return ent_error_set(ENT_IO, "--creds %s: %s", creds, nats_text(st));
    return ENT_OK;
}

int ent_nats__auth_dup(ent_nats_auth *dst, const ent_nats_auth *src)
{
    const char *const *from = &src->tls_ca;
    const char **to = &dst->tls_ca;
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < sizeof *src / sizeof(const char *); i++)
        if (from[i] && !(to[i] = strdup(from[i]))) {
            ent_nats__auth_free(dst);
            return ent_error_set(ENT_NOMEM, "out of memory");
        }
    return ENT_OK;
}

void ent_nats__auth_free(ent_nats_auth *a)
{
    const char **p = &a->tls_ca;
    for (size_t i = 0; i < sizeof *a / sizeof(const char *); i++) {
        free((char *)p[i]);
        p[i] = NULL;
    }
}

int ent_nats_check_auth(const char *url, const ent_nats_auth *a)
{
    const char *ca, *cert, *key, *host, *nkey, *creds;
    natsOptions *o = NULL;
    natsStatus st;
    int rc;
    if (!a) return ENT_OK;
    ca = auth_val(a->tls_ca), cert = auth_val(a->tls_cert), key = auth_val(a->tls_key);
    host = auth_val(a->tls_hostname), nkey = auth_val(a->nkey_seed), creds = auth_val(a->creds);
    /* the combinations first: wrong usage whatever the files hold */
    if (!cert != !key)
        return ent_error_set(ENT_INVALID, "a client certificate needs its key and a key its certificate: give --tlscert and "
                                          "--tlskey (tls_cert, tls_key) together");
    if (nkey && creds)
        return ent_error_set(ENT_INVALID, "--nkey and --creds (nkey_seed, creds) are two ways to authenticate: give one");
    if ((nkey || creds) && url_has_user(url))
        return ent_error_set(ENT_INVALID, "the NATS URL holds a user or token and --%s is given: give one way to authenticate",
                             nkey ? "nkey" : "creds");
    if (host && !ca && !cert && url && !url_has_tls(url))
        return ent_error_set(ENT_INVALID, "--tls-hostname (tls_hostname) needs TLS: a tls:// URL, --tlsca or --tlscert");
    if (ca && (rc = auth_file_readable("--tlsca", ca))) return rc;
    if (cert && (rc = auth_file_readable("--tlscert", cert))) return rc;
    if (key && (rc = auth_file_readable("--tlskey", key))) return rc;
    if (nkey) {
        char pub[NKEY_PUB_LEN + 1];
        if ((rc = nkey_public(pub, nkey))) return rc;
    }
    if (creds && (rc = creds_check(creds))) return rc;
    /* what libnats makes of the TLS files (not PEM, a key that is not the certificate's): said
     * now, not as an outage at each connect */
    if (!ca && !cert) return ENT_OK;
    if ((st = natsOptions_Create(&o)) != NATS_OK) return ent_nats__err(ENT_NOMEM, st, 0, "NATS options");
    rc = auth_apply(o, a);
    natsOptions_Destroy(o);
    return rc;
}

int ent_nats__err(int code, natsStatus s, jsErrCode jerr, const char *what)
{
    const char *last = nats_GetLastError(NULL);
    /* libnats prefixes "(file.c:123): ": people need the text, not the client's source line */
    if (last && last[0] == '(' && strstr(last, "): ")) last = strstr(last, "): ") + 3;
    /* libnats's text for it is "No responders available for request" */
    if (jerr == JSNotEnabledErr)
        return ent_error_set(code, "%s: JetStream is not enabled at the server (nats-server -js)", what);
    if (jerr)
        return ent_error_set(code, "%s: %s (JetStream error %d)", what, last && *last ? last : natsStatus_GetText(s), (int)jerr);
    return ent_error_set(code, "%s: %s", what, last && *last ? last : natsStatus_GetText(s));
}

static int64_t mono_ms(void);

static void ack_failed_detail(ent_nats__acks *a, int refused, int detail, const char *fmt, const char *x, const char *y)
{
    if (__atomic_load_n(&a->failed, __ATOMIC_ACQUIRE)) return; /* the first one says it */
    snprintf(a->err, sizeof a->err, fmt, x, y);
    a->detail = detail;
    __atomic_store_n(&a->refused, refused, __ATOMIC_RELAXED);
    __atomic_store_n(&a->failed, 1, __ATOMIC_RELEASE);
}

static void ack_failed(ent_nats__acks *a, int refused, const char *fmt, const char *x, const char *y)
{
    ack_failed_detail(a, refused, ENT_DETAIL_NONE, fmt, x, y);
}

/* The unsigned number after the first key (with its quotes and colon) in the JSON answer
 * d[0..n), blanks allowed between; 0 if the key is not there or no digit follows (a number too
 * large for 64 bits stops growing at its last digit that fits: no code or seq is that long). A
 * scan, not a parse: JetStream's answers are flat, and these keys appear once. */
static uint64_t json_uint_after(const char *d, size_t n, const char *key)
{
    size_t k = strlen(key);
    const char *p = memmem(d, n, key, k);
    uint64_t v = 0;
    if (!p) return 0;
    for (p += k; p < d + n && (*p == ' ' || *p == '\t'); p++) {
    }
    for (; p < d + n && *p >= '0' && *p <= '9' && v < UINT64_MAX / 10; p++) v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

/* What a JetStream refusal means for the relay's caller (ent_errdetail()), from the answer's
 * "err_code" (nats-server's JSErrCodes) as nats-server 2.9 answers a publish:
 *   10077 JSStreamStoreFailedF, "{err}": the stream's store said no. Its limits with the discard-new
 *         policy say "maximum messages exceeded", "maximum bytes exceeded" or "maximum messages per
 *         subject exceeded" (no room: removing messages or raising the limit lets the same publish
 *         succeed), "message too large" is too large; other words (a store closed, a write that
 *         failed) are no lack of room;
 *   10023 "insufficient resources": the server's max_file_store or max_memory_store is reached;
 *   10002 "resource limits exceeded for account": the account's JetStream max_file or max_mem;
 *   10047, 10028: storage or memory the server cannot give (said to a stream's creation);
 *   10054 "message size exceeds maximum allowed": the stream's max_msg_size.
 * (nats_util.h) */
int ent_nats__refusal_detail(const char *d, size_t n, const char *desc, size_t k)
{
    switch (json_uint_after(d, n, "\"err_code\":")) {
    case 10077:
        if (k >= 8 && memcmp(desc, "maximum ", 8) == 0) return ENT_DETAIL_NO_SPACE;
        if (k == 17 && memcmp(desc, "message too large", 17) == 0) return ENT_DETAIL_TOO_LARGE;
        return ENT_DETAIL_NONE;
    case 10002:
    case 10023:
    case 10028:
    case 10047:
        return ENT_DETAIL_NO_SPACE;
    case 10054:
        return ENT_DETAIL_TOO_LARGE;
    default:
        return ENT_DETAIL_NONE;
    }
}

/* The ack says "duplicate": true (nats-server writes it with a space; any number is allowed). */
static int is_duplicate(const char *d, size_t n)
{
    const char *p = memmem(d, n, "\"duplicate\":", 12);
    if (!p) return 0;
    for (p += 12; p < d + n && (*p == ' ' || *p == '\t'); p++) {
    }
    return (size_t)(d + n - p) >= 4 && !memcmp(p, "true", 4);
}

/* Every ack ends here (the ack subscription's thread): JetStream's answer to the publish whose
 * reply subject ends in <token>, the event's seq ("s<version>" for a schema message). Acks of one stream
 * come back in publish order on one connection, so the highest acknowledged seq covers every
 * event before it; an error answer stops that (the relay then stops or reconnects). */
static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    ent_nats__acks *a = closure;
    const char *subj = natsMsg_GetSubject(msg), *tok = subj ? strrchr(subj, '.') : NULL;
    const char *d = natsMsg_GetData(msg);
    int n = natsMsg_GetDataLength(msg);
    char what[48];
    (void)nc;
    (void)sub;
    tok = tok ? tok + 1 : "?";
    snprintf(what, sizeof what, "%s%.24s", *tok == 's' ? "schema version " : "event seq ", *tok == 's' ? tok + 1 : tok);
    /* a message stored (event or schema): the stream holds the store's messages again */
    if (d && n > 0 && !memmem(d, (size_t)n, "\"error\"", 7) && !is_duplicate(d, (size_t)n))
        __atomic_store_n(&a->gone_dups_ok, 0, __ATOMIC_RELEASE);
    if (!d || n <= 0) {
        /* a status message, not an ack: 503, no stream listens on the subject (deleted?) */
        const char *status = NULL;
        natsMsgHeader_Get(msg, "Status", &status);
        ack_failed(a, 0, "%s: no JetStream answer (status %s)", what, status ? status : "none");
    } else if (memmem(d, (size_t)n, "\"error\"", 7)) {
        char text[200];
        const char *p = memmem(d, (size_t)n, "\"description\":\"", 15);
        size_t k = 0;
        if (p)
            for (p += 15; p < d + n && *p != '"' && k < sizeof text - 1; p++) text[k++] = *p;
        text[k] = '\0';
        ack_failed_detail(a, 1, ent_nats__refusal_detail(d, (size_t)n, text, k), "%s: %s", what, k ? text : "an error");
    } else if (is_duplicate(d, (size_t)n) && __atomic_load_n(&a->gone_dups_ok, __ATOMIC_ACQUIRE) &&
               !__atomic_load_n(&a->failed, __ATOMIC_ACQUIRE) &&
               (*tok == 's' || strtoull(tok, NULL, 10) == __atomic_load_n(&a->acked_seq, __ATOMIC_RELAXED) + 1)) {
        /* A stream that holds nothing of the store (the relay resumed into it, see gone_dups_ok):
         * this message was in it and went with the rest (a purge once every mirror had them). A
         * relay stopped before its checkpoint caught up with the acks (a SIGTERM drops the acks
         * in flight) resumes from that checkpoint, publishes those events again, and JetStream,
         * within its duplicate window, drops them: the relay stopped, exit 1, "deleted within its
         * duplicate window", for two minutes after every such purge, then put them back into the
         * purged stream. Nothing is missing from the stream that it had: an ack, in seq order. */
        if (*tok != 's') {
            __atomic_store_n(&a->acked_seq, strtoull(tok, NULL, 10), __ATOMIC_RELEASE);
            ent_nats__progress_advance(a->progress, strtoull(tok, NULL, 10));
        }
    } else if (is_duplicate(d, (size_t)n)) {
        /* The relay publishes only seqs after the stream's last of the store, and schema versions
         * after its last one: JetStream saw this id within its duplicate window, in a message the
         * stream no longer holds (deleted by hand), and did not store it. Not an ack: taken for
         * one, it left a gap (an event), or events read under the version before it (a schema
         * message). Or the stream does hold it: the stream's last message read by a resume was
         * stale, JetStream still storing what the connection before had sent (a stalled server);
         * the relay looks at the message the answer names (dup_of) before it believes either. */
        if (!__atomic_load_n(&a->failed, __ATOMIC_ACQUIRE)) {
            a->dup_of = json_uint_after(d, (size_t)n, "\"seq\":"); /* the message it duplicates */
            snprintf(a->dup_token, sizeof a->dup_token, "%.31s", tok);
            a->duplicate = 1;
        }
        ack_failed(a, 1, "%s: dropped as a duplicate of a message the stream no longer holds (deleted within "
                   "its duplicate window, %s); run the relay again once that window has passed", what, "2 minutes by default");
    } else if (*tok >= '0' && *tok <= '9' && !__atomic_load_n(&a->failed, __ATOMIC_ACQUIRE)) {
        /* Not past a failure, and one seq at a time: the checkpoint must never cover a message
         * that is not stored. Events are published in seq order from acked_seq + 1 (set by the
         * relay's resume) and their acks come back in that order on this one subscription's
         * thread, so an ack past the next seq means the next one's ack never came: it may not be
         * stored though a later one is, and resuming after the stream's last would skip it. */
        uint64_t seq = strtoull(tok, NULL, 10);
        uint64_t cur = __atomic_load_n(&a->acked_seq, __ATOMIC_RELAXED);
        if (seq == cur + 1) {
            __atomic_store_n(&a->acked_seq, seq, __ATOMIC_RELEASE);
            ent_nats__progress_advance(a->progress, seq); /* the host's ent_relay_wait() wakes now */
        } else if (seq > cur + 1) {
            char want[24];
            snprintf(want, sizeof want, "%" PRIu64, cur + 1);
            ack_failed(a, 1, "event seq %s: no ack came for it, but one came for event seq %s", want, tok);
        }
    }
    /* seq_cst with the waiter's store of waiting and load of n_acks: one of the two sees the other */
    __atomic_add_fetch(&a->n_acks, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&a->waiting, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&a->mu);
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
    natsMsg_Destroy(msg);
}

ent_nats__progress *ent_nats__progress_new(void)
{
    ent_nats__progress *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;
    if (!p) return NULL;
    p->refs = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

void ent_nats__progress_ref(ent_nats__progress *p)
{
    if (p) __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void ent_nats__progress_release(ent_nats__progress *p)
{
    if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void ent_nats__progress_advance(ent_nats__progress *p, uint64_t seq)
{
    uint64_t cur;
    if (!p) return;
    cur = __atomic_load_n(&p->done, __ATOMIC_SEQ_CST);
    while (cur < seq && !__atomic_compare_exchange_n(&p->done, &cur, seq, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    /* seq_cst with the waiter's store of waiters and load of done (ent_relay_wait): one of the
     * two sees the other, so a wait never sleeps past the ack; with no waiter, no lock per ack */
    if (cur < seq && __atomic_load_n(&p->waiters, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Written once by the runner itself before its first callback: a thread that reads runner_set as
 * 0 is not the runner, and the runner reads back its own write. */
void ent_nats__progress_runner(ent_nats__progress *p)
{
    if (!p) return;
    p->runner = pthread_self();
    __atomic_store_n(&p->runner_set, 1, __ATOMIC_RELEASE);
}

int ent_nats__progress_on_runner(const ent_nats__progress *p)
{
    return p && __atomic_load_n(&p->runner_set, __ATOMIC_ACQUIRE) && pthread_equal(p->runner, pthread_self());
}

void ent_nats__progress_end(ent_nats__progress *p, int how, int rc, int detail, const char *msg)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (!p->ended) {
        p->ended = how;
        p->rc = rc;
        p->detail = detail;
        snprintf(p->msg, sizeof p->msg, "%s", msg ? msg : "");
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static ent_nats__acks *acks_new(void)
{
    ent_nats__acks *a = calloc(1, sizeof *a);
    pthread_condattr_t ca;
    if (!a) return NULL;
    a->refs = 1; /* the connection's owner (ent_nats__conn) */
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    return a;
}

static void acks_release(ent_nats__acks *a)
{
    if (!a || __atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    ent_nats__progress_release(a->progress);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* The ack subscription's delivery thread is done with its callbacks (libnats calls this after the
 * last one returned, as the thread ends): its reference goes. */
static void on_sub_complete(void *closure)
{
    acks_release(closure);
}

/* libnats's closed callback, on its callback thread: posted by whichever close ran first (ours, or
 * its own on a stale or lost connection) once that close joined the connection's reader thread. */
static void on_closed(natsConnection *nc, void *closure)
{
    ent_nats__acks *a = closure;
    (void)nc;
    pthread_mutex_lock(&a->mu);
    a->closed = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    acks_release(a); /* the reference taken for this call (ent_nats__connect) */
}

/* Whether the closed callback came within ms. */
static int wait_closed(ent_nats__acks *a, int ms)
{
    struct timespec ts;
    int closed;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    while (!a->closed && pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0) {
    }
    closed = a->closed;
    pthread_mutex_unlock(&a->mu);
    return closed;
}

/* c->nc = nc, under the watcher's lock when watched (its thread reads c->nc). */
static void set_nc(ent_nats__conn *c, natsConnection *nc)
{
    if (c->guard) pthread_mutex_lock(c->guard);
    c->nc = nc;
    if (c->guard) pthread_mutex_unlock(c->guard);
}

int ent_nats__connect(ent_nats__conn *c, const char *url, const ent_nats_auth *auth, int window)
{
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    jsOptions jo;
    natsStatus st;
    char subj[128], urls[ENATS_URLS_MAX][ENATS_URL_MAX];
    const char *servers[ENATS_URLS_MAX];
    int n_urls = 0, rc;
    set_nc(c, NULL);
    c->js = NULL;
    c->inbox = NULL;
    c->ack_sub = NULL;
    c->sub = NULL;
    c->sent_msgs = 0;
    if ((rc = split_urls(urls, &n_urls, url))) return rc;
    for (int i = 0; i < n_urls; i++) servers[i] = urls[i];
    if (!(c->acks = acks_new())) return ent_error_set(ENT_NOMEM, "out of memory");
    if (c->progress) { /* (the ack thread may outlive the relay: a reference of its own) */
        ent_nats__progress_ref(c->progress);
        c->acks->progress = c->progress;
    }
    if ((st = natsOptions_Create(&o)) != NATS_OK) {
        ent_nats__close(c);
        return ent_nats__err(ENT_NOMEM, st, 0, "NATS options");
    }
    /* A list goes in as a list: libnats takes the URL option as one server ("a,b" connected to
     * none), and tries the servers in the order given. */
    if ((st = natsOptions_SetServers(o, servers, n_urls)) != NATS_OK || (st = natsOptions_SetNoRandomize(o, true)) != NATS_OK) {
        char shown[1024];
        ent_nats__url_shown(shown, sizeof shown, url);
        natsOptions_Destroy(o);
        ent_nats__close(c);
        return ent_nats__err(ENT_INVALID, st, 0, shown);
    }
    /* tls:// asks for TLS: libnats reads the scheme as nats:// (TLS only where the server
     * demands it), so a server without TLS got the store's log in plain text. */
    for (int i = 0; i < n_urls; i++)
        if (!strncmp(urls[i], "tls://", 6) && (st = natsOptions_SetSecure(o, true)) != NATS_OK) {
            natsOptions_Destroy(o);
            ent_nats__close(c);
            return ent_nats__err(ENT_INVALID, st, 0, "TLS");
        }
    /* A file that loaded when the run started and does not now (replaced meanwhile by something
     * else): the operator's to mend, not an outage (ENT_INVALID: not retried). */
    if (auth && (rc = auth_apply(o, auth))) {
        natsOptions_Destroy(o);
        ent_nats__close(c);
        return ent_error_set(ENT_INVALID, "%s", ent_errmsg());
    }
    /* No reconnect inside the client: its reconnect buffer could resend messages after others
     * were lost with the old connection, leaving a gap. A new connection resumes from the stream. */
    natsOptions_SetAllowReconnect(o, false);
    /* A server that stops reading (hung, stopped, a stalled network) once the sockets are full:
     * without a deadline a write waited in send() as long as it did, the connection's lock held, so
     * that neither libnats's pinger found the connection stale nor a stop was heard. After 5 s
     * (JetStream's wait for an answer too) the write fails and libnats closes the connection. */
    natsOptions_SetWriteDeadline(o, 5000);
    natsOptions_SetTimeout(o, 2000);
    natsOptions_SetPingInterval(o, 2000);
    natsOptions_SetMaxPingsOut(o, 2);
    natsOptions_SetName(o, "libentity");
    natsOptions_SetClosedCB(o, on_closed, c->acks);
    /* A connection made is closed some day, and its closed callback then comes once; one that
     * failed to connect never calls it (libnats closes those without callbacks). */
    __atomic_add_fetch(&c->acks->refs, 1, __ATOMIC_RELAXED);
    st = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (st == NATS_OK) set_nc(c, nc);
    if (st != NATS_OK) {
        acks_release(c->acks); /* the closed callback's */
        ent_nats__close(c);
        /* Credentials the server refuses are the operator's to change, not an outage to wait
         * out: relay and mirror said "NATS unreachable" and retried for ever. ENT_INVALID ends
         * them (exit 1), naming it. */
        if (st == NATS_CONNECTION_AUTH_FAILED || st == NATS_NOT_PERMITTED) {
            char what[2600], shown[1024];
            ent_nats__url_shown(shown, sizeof shown, url);
            if (auth && auth_val(auth->nkey_seed))
                snprintf(what, sizeof what, "NATS at %s refused the NKey of --nkey %s", shown, auth->nkey_seed);
            else if (auth && auth_val(auth->creds)) {
                char note[1200];
                creds_expiry_note(note, sizeof note, auth->creds);
                snprintf(what, sizeof what, "NATS at %s refused the credentials of --creds %s%s", shown, auth->creds, note);
            }
            else
                snprintf(what, sizeof what, "NATS at %s refused the URL's credentials (or their absence)", shown);
            return ent_nats__err(ENT_INVALID, st, 0, what);
        }
        /* The server's certificate failed verification (libnats: "SSL handshake error: <the
         * X509 verify code>:<its text>...": unknown CA, wrong name, expired): no retry changes
         * that either, as for refused credentials. A handshake cut short is an outage: retried. */
        if (st == NATS_SSL_ERROR) {
            const char *t = nats_text(st), *h = strstr(t, "SSL handshake error: ");
            if (h && h[21] >= '0' && h[21] <= '9') {
                char shown[1024];
                ent_nats__url_shown(shown, sizeof shown, url);
                return ent_error_set(ENT_INVALID, "NATS at %s: its certificate is not trusted: %s (--tlsca names the CA that "
                                     "signed it, --tls-hostname a name it holds)", shown, h);
            }
        }
        /* nats-server closes the connection of a client without a certificate when it verifies
         * them (tls { verify: true }), after the handshake: libnats says only "Expected 'PONG', got ''" */
        if (st == NATS_PROTOCOL_ERROR && !(auth && auth_val(auth->tls_cert)))
            return ent_error_set(ENT_IO, "connecting: %s (the server closed the connection; one that verifies its clients "
                                 "wants a certificate: --tlscert and --tlskey)", nats_text(st));
        /* libnats's socket() refused for lack of descriptors reads "No server available for
         * connection": a user told the server is down looked there (a relay at ulimit -n 12). */
        {
            int probe = fcntl(0, F_DUPFD_CLOEXEC, 0), err = errno;
            if (probe >= 0) close(probe);
            else if (err == EMFILE)
                return ent_error_set(ENT_IO, "connecting: %s: this process cannot open a socket: %s", nats_text(st), strerror(err));
        }
        return ent_nats__err(ENT_IO, st, 0, "connecting");
    }
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if ((st = natsConnection_JetStream(&c->js, c->nc, &jo)) != NATS_OK) {
        ent_nats__close(c);
        return ent_nats__err(ENT_IO, st, 0, "JetStream context");
    }
    if (window > 0) {
        /* room for every ack of a window and then some: a dropped ack would cost a reconnect */
        int lim = (window < 1 << 20 ? window : 1 << 20) + 1024;
        if ((st = natsInbox_Create(&c->inbox)) == NATS_OK) {
            snprintf(subj, sizeof subj, "%s.*", c->inbox);
            st = natsConnection_Subscribe(&c->ack_sub, c->nc, subj, on_ack, c->acks);
        }
        if (st == NATS_OK) {
            /* on_ack's state lives until its thread says it is done (see ent_nats__acks). Refused
             * only for a subscription closed already (the connection lost meanwhile): nothing was
             * published to its inbox yet, so no callback runs. */
            __atomic_add_fetch(&c->acks->refs, 1, __ATOMIC_RELAXED);
            if (natsSubscription_SetOnCompleteCB(c->ack_sub, on_sub_complete, c->acks) != NATS_OK) acks_release(c->acks);
        }
        if (st == NATS_OK) st = natsSubscription_SetPendingLimits(c->ack_sub, lim, lim * 1024);
        if (st != NATS_OK) {
            ent_nats__close(c);
            return ent_nats__err(ENT_IO, st, 0, "subscribing to JetStream's acks");
        }
    }
    return ENT_OK;
}

void ent_nats__reply(const ent_nats__conn *c, char *buf, size_t size, const char *token)
{
    size_t n = strlen(c->inbox), t = strlen(token);
    if (n + 1 + t + 1 > size) t = n = 0; /* cannot happen: inboxes are 29 bytes */
    memcpy(buf, c->inbox, n);
    buf[n] = '.';
    memcpy(buf + n + 1, token, t);
    buf[n + 1 + t] = '\0';
}

int ent_nats__publish(ent_nats__conn *c, natsMsg *m)
{
    natsStatus st = natsConnection_PublishMsg(c->nc, m);
    if (st == NATS_MAX_PAYLOAD) return ent_nats__err(ENT_FULL, st, 0, "publishing"); /* not an outage */
    if (st != NATS_OK) return ent_nats__err(ENT_IO, st, 0, "publishing");
    c->sent_msgs++;
    return ENT_OK;
}

int ent_nats__wait_acks(ent_nats__conn *c, uint64_t limit, int timeout_ms)
{
    ent_nats__acks *a = c->acks;
    int64_t end = mono_ms() + timeout_ms;
    int rc = ENT_OK;
    if (c->sent_msgs - __atomic_load_n(&a->n_acks, __ATOMIC_SEQ_CST) < limit) return ENT_OK;
    pthread_mutex_lock(&a->mu);
    __atomic_store_n(&a->waiting, 1, __ATOMIC_SEQ_CST);
    while (c->sent_msgs - __atomic_load_n(&a->n_acks, __ATOMIC_SEQ_CST) >= limit) {
        int64_t left = end - mono_ms(), step;
        struct timespec ts;
        if (__atomic_load_n(&a->failed, __ATOMIC_ACQUIRE) || ent_nats__closed(c)) break;
        if (ent_nats__stopped(c->stop)) {
            /* a stop is not kept waiting up to timeout_ms for acks that may not come */
            rc = ent_error_set(ENT_TIMEOUT, "stopped while waiting for JetStream's acks");
            break;
        }
        if (left <= 0) {
            rc = ent_error_set(ENT_IO, "%" PRIu64 " of %" PRIu64 " acks missing after %d ms",
                               c->sent_msgs - __atomic_load_n(&a->n_acks, __ATOMIC_SEQ_CST), c->sent_msgs, timeout_ms);
            break;
        }
        /* short slices: the connection closing wakes nobody */
        step = left < 100 ? left : 100;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(step / 1000);
        ts.tv_nsec += (long)(step % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    __atomic_store_n(&a->waiting, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void ent_nats__close(ent_nats__conn *c)
{
    int joined = 1;
    /* No ack reaches this state once this returns, save one being delivered right now (which holds
     * its own reference to it). */
    if (c->ack_sub) natsSubscription_Unsubscribe(c->ack_sub);
    /* A mirror's: deletes its consumer, a request that waits for the server's answer (5 s when it
     * does not answer: a stop waited as long). After a stop, the close is all: the server removes
     * the ordered consumer itself once its connection is gone (an ephemeral one without interest). */
    if (c->sub && !ent_nats__stopped(c->stop)) natsSubscription_Unsubscribe(c->sub);
    natsInbox_Destroy(c->inbox);
    c->inbox = NULL;
    if (c->js) jsCtx_Destroy(c->js);
    /* libnats 3.4's reader thread looks a message's subscription up, lets go of the lock, builds
     * the message and only then locks the subscription: destroyed in between, it was used after it
     * was freed (an ASan SEGV in CI: an ack arriving as the relay stopped). So the subscriptions go
     * once the reader thread is joined. Our close joins it, but returns at once when libnats closed
     * the connection itself (stale, lost), maybe while that close still waits for the thread: the
     * closed callback says when it is gone. Should it never come, the subscriptions are left
     * allocated rather than freed under libnats (and the state, which the callback holds). */
    if (c->nc) {
        natsConnection_Close(c->nc);
        joined = wait_closed(c->acks, 30000);
    }
    if (joined && c->ack_sub) natsSubscription_Destroy(c->ack_sub);
    if (joined && c->sub) natsSubscription_Destroy(c->sub);
    c->ack_sub = NULL;
    c->sub = NULL;
    if (c->nc) {
        natsConnection *nc = c->nc;
        set_nc(c, NULL); /* after the watcher's close of it, if one is under way */
        natsConnection_Destroy(nc);
    }
    c->js = NULL;
    c->sent_msgs = 0;
    acks_release(c->acks); /* the owner's: callbacks still to come hold theirs */
    c->acks = NULL;
}

static void *watch_main(void *p)
{
    ent_nats__watch *w = p;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        struct timespec ts;
        /* also a connection made after the stop (a connect under way then) */
        if (ent_nats__stopped(w->stop) && w->c->nc && !natsConnection_IsClosed(w->c->nc)) natsConnection_Close(w->c->nc);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += ENATS_WATCH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int ent_nats__watch_start(ent_nats__watch *w, ent_nats__conn *c, const volatile int *stop)
{
    pthread_condattr_t ca;
    memset(w, 0, sizeof *w);
    w->c = c;
    w->stop = stop;
    if (!stop) return ENT_OK;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->guard = &w->mu;
    int err = pthread_create(&w->th, NULL, watch_main, w);
    if (err) {
        c->guard = NULL;
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        w->stop = NULL;
        return ent_nats__thread_err(err, "the thread that watches for a stop");
    }
    w->running = 1;
    return ENT_OK;
}

void ent_nats__watch_end(ent_nats__watch *w)
{
    if (!w->running) return;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    w->c->guard = NULL;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->running = 0;
}

void ent_nats__fini(ent_nats__conn *c)
{
    ent_nats__close(c);
}

int ent_nats__closed(const ent_nats__conn *c) { return !c->nc || natsConnection_IsClosed(c->nc); }

void ent_nats__log(ent_nats_log_cb cb, void *payload, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (cb) cb(buf, payload);
    else fprintf(stderr, "entity: %s\n", buf);
}

void ent_nats__nap(int ms, const volatile int *stop)
{
    while (ms > 0 && !ent_nats__stopped(stop)) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

int ent_nats__same_event(int *same, natsMsg *m, ent_store *s, uint64_t seq)
{
    ent_event *ev = NULL;
    char *json = NULL;
    const char *d = natsMsg_GetData(m), *end;
    int n = natsMsg_GetDataLength(m), rc = ent_log_get(&ev, s, NULL, seq);
    size_t k;
    *same = 0;
    if (!rc) rc = ent_event_to_json(&json, ev, 0);
    ent_event_free(ev);
    if (rc) return rc;
    /* the compact line starts {"seq":N,"ts":"...","txn":N,"type": in that order */
    end = strstr(json, ",\"type\":");
    k = end ? (size_t)(end - json) : 0;
    *same = k && d && n >= 0 && (size_t)n > k && !memcmp(d, json, k + 1);
    free(json);
    return ENT_OK;
}

/* subject matches filter, token by token: "*" takes one token, a last ">" the rest. */
static int subject_matches(const char *filter, const char *subject)
{
    const char *f = filter, *s = subject;
    for (;;) {
        size_t fl = strcspn(f, "."), sl = strcspn(s, ".");
        if (fl == 1 && *f == '>' && !f[1]) return sl > 0;
        if (!(fl == 1 && *f == '*') && (fl != sl || memcmp(f, s, fl))) return 0;
        if (!sl) return 0;
        f += fl;
        s += sl;
        if (!*f || !*s) return !*f && !*s;
        f++;
        s++;
    }
}

/* Positions read back at most when the server finds no last message (see ent_nats__last_msg). */
#define WALK_MAX 4096

int ent_nats__last_msg(natsMsg **out, jsCtx *js, const char *stream, const char *subject)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    uint64_t seq, low;
    natsStatus st = js_GetLastMsg(out, js, stream, subject, NULL, &jerr);
    if (st == NATS_OK) return ENT_OK;
    *out = NULL;
    if (st != NATS_NOT_FOUND && jerr != JSNoMessageFoundErr) return ent_nats__err(ENT_IO, st, jerr, "reading the stream's last message");
    jerr = 0;
    if ((st = js_GetStreamInfo(&si, js, stream, NULL, &jerr)) != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "reading the stream's info");
    /* Nothing removed (the first seq 1 and no hole), or nothing there: the server's answer stands. */
    seq = si->State.Msgs && !(si->State.FirstSeq <= 1 && si->State.NumDeleted == 0) ? si->State.LastSeq : 0;
    low = si->State.FirstSeq > 1 ? si->State.FirstSeq : 1;
    if (seq >= low && seq - low >= WALK_MAX) low = seq - WALK_MAX + 1;
    jsStreamInfo_Destroy(si);
    for (; seq >= low && seq > 0; seq--) {
        natsMsg *m = NULL;
        jerr = 0;
        st = js_GetMsg(&m, js, stream, seq, NULL, &jerr);
        if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) continue;
        if (st != NATS_OK) return ent_nats__err(ENT_IO, st, jerr, "reading the stream back");
        if (subject_matches(subject, natsMsg_GetSubject(m))) {
            *out = m;
            return ENT_OK;
        }
        natsMsg_Destroy(m);
    }
    return ENT_OK;
}

int ent_nats__header_u64(uint64_t *out, natsMsg *m, const char *key)
{
    const char *v = NULL;
    char *end;
    unsigned long long x;
    *out = 0;
    if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v || !*v) return ENT_NOTFOUND;
    x = strtoull(v, &end, 10);
    if (*end) return ENT_NOTFOUND;
    *out = x;
    return ENT_OK;
}

int ent_nats__lock_dir(int *out, const char *dir, const char *who) { return ent_nats__lock_new_dir(out, NULL, dir, who); }

int ent_nats__lock_new_dir(int *out, int *made, const char *dir, const char *who)
{
    char path[4096], pid[32] = "";
    struct stat held, named;
    int fd, n;
    *out = -1;
    if (made) *made = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s.lock", dir, who) >= sizeof path)
        return ent_error_set(ENT_INVALID, "store %s: path too long for its %s lock", dir, who);
    /* a mirror's directory may not be there yet (the store is made from the stream's first
     * message): made as the store would make it */
    if (mkdir(dir, 0775) == 0) {
        if (made) *made = 1;
    } else if (errno != EEXIST) {
        return ent_error_set(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create store directory %s: %s",
                             dir, strerror(errno));
    }
again:
    /* 0664 less the umask, as the store's own files (lock.mdb, wal): 0644 kept a member of the
     * store's group, who may write the store, from running a relay or mirror on it */
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0664)) < 0)
        return ent_error_set(ENT_IO, "store %s: opening %s: %s", dir, path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) {
            n = (int)pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            close(fd);
            return ent_error_set(ENT_BUSY, "store %s: a %s is already running on it (pid %s); one %s per store", dir, who,
                                 pid[0] ? pid : "unknown", who);
        }
        n = errno;
        close(fd);
        return ent_error_set(ENT_IO, "store %s: locking %s: %s", dir, path, strerror(n));
    }
    /* A failed first run removes its lock file (ent_nats__unlock_failed_dir()): a lock taken on
     * the file it unlinked, opened before the unlink, is no lock of the path; take the path's. */
    if (fstat(fd, &held) == 0 && (stat(path, &named) != 0 || named.st_ino != held.st_ino || named.st_dev != held.st_dev)) {
        close(fd);
        if (mkdir(dir, 0775) == 0) {
            if (made) *made = 1; /* the failed run removed it: this run made it anew */
        } else if (errno != EEXIST) {
            return ent_error_set(ENT_IO, "cannot create store directory %s: %s", dir, strerror(errno));
        }
        goto again;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) { /* only the message loses */
    }
    *out = fd;
    return ENT_OK;
}

void ent_nats__unlock_failed_dir(int fd, const char *dir, const char *who, int code)
{
    char msg[1024], path[4096];
    int detail = ent_errdetail(), rc;
    ent_store *x = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    DIR *d;
    struct dirent *de;
    snprintf(msg, sizeof msg, "%s", ent_errmsg());
    ro.read_only = 1;
    rc = ent_store_open(&x, dir, NULL, &ro);
    ent_store_close(x);
    if (rc == ENT_NOTFOUND && (size_t)snprintf(path, sizeof path, "%s/%s.lock", dir, who) < sizeof path && (d = opendir(dir))) {
        /* only regular files: the lock file and LMDB's; anything else keeps the directory */
        while ((de = readdir(d))) {
            struct stat st;
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
        if (rmdir(dir) != 0) { /* another run came in: it holds a lock file of its own */
        }
    }
    ent_nats__unlock_dir(fd);
    if (code) ent_error_set_detail(code, detail, "%s", msg);
}

void ent_nats__unlock_dir(int fd)
{
    if (fd < 0) return;
    /* the pid goes first: a run that finds the file unlocked and empty is not misled */
    if (ftruncate(fd, 0) != 0) {
    }
    close(fd); /* drops the flock */
}

/* ---- the store at the path ------------------------------------------------------------------
 * A relay or mirror keeps its store open for days. Removed (rm -rf) or replaced under it (a
 * `copy --compact` or a backup moved into its place), the files it has open are no one's any
 * more: every other process writes and reads the store now at the path. A relay waited for commits
 * that never came, and the stream got none of the new store's events; a mirror applied into files
 * no reader sees. Both went on in silence, for ever. They ask ent_store_check_path() when nothing
 * comes (the check was theirs, and the server's and the tool's, until it moved into the core). */
int ent_nats__abs_path(char **out, const char *path)
{
    char cwd[4096];
    size_t n;
    *out = NULL;
    if (!path) return ENT_OK;
    if (path[0] == '/' || !path[0]) {
        if (!(*out = strdup(path))) return ent_error_set(ENT_NOMEM, "out of memory");
        return ENT_OK;
    }
    if (!getcwd(cwd, sizeof cwd))
        return ent_error_set(ENT_IO, "store %s: the current directory, which it is relative to: %s", path, strerror(errno));
    n = strlen(cwd) + 1 + strlen(path) + 1;
    if (!(*out = malloc(n))) return ent_error_set(ENT_NOMEM, "out of memory");
    snprintf(*out, n, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
    return ENT_OK;
}

int ent_nats__store_moved(ent_store *s, const char *who, const char *why)
{
    char msg[1024];
    int rc = ent_store_check_path(s);
    if (rc == ENT_OK) return ENT_OK;
    snprintf(msg, sizeof msg, "%s", ent_errmsg());
    return ent_error_set(rc, "%s; the %s stops: %s%s", msg, who, why,
                         rc == ENT_CONFLICT ? " (run it again on the store now there)" : "");
}

/* Every subject that filter `want` (literal tokens, ending in ">") matches is matched by the
 * stream's subject `have`, token by token: "*" takes any one token, ">" the rest. Only ">",
 * "entity.>" and the store's own filter were taken: a stream made by hand for every store with
 * "entity.*.>" was refused, told to add the store's filter, which JetStream refuses as an overlap. */
int ent_nats__subject_covers(const char *have, const char *want)
{
    for (;;) {
        size_t hn = strcspn(have, "."), wn = strcspn(want, ".");
        if (hn == 1 && have[0] == '>') return 1;
        if (wn == 1 && want[0] == '>') return 0; /* the rest of want, matched by less than ">" */
        if (!(hn == 1 && have[0] == '*') && (hn != wn || memcmp(have, want, hn))) return 0;
        have += hn;
        want += wn;
        if (!*have || !*want) return !*have && !*want;
        have++;
        want++;
    }
}

/* A thread that could not be started (pthread_create()'s err): ENT_NOMEM, as before, with why.
 * EAGAIN is most often this user's limit of processes and threads (RLIMIT_NPROC, `ulimit -u`),
 * which the message names with its value; it said "cannot start the relay thread" alone. */
int ent_nats__thread_err(int err, const char *what)
{
    struct rlimit rl;
    if (err == EAGAIN && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return ent_error_set(ENT_NOMEM, "cannot start %s: %s (this user's limit of processes and threads, ulimit -u: %llu, "
                             "or the memory for its stack)", what, strerror(err), (unsigned long long)rl.rlim_cur);
    return ent_error_set(ENT_NOMEM, "cannot start %s: %s", what, strerror(err));
}
