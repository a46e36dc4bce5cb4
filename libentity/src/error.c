/* Status texts and the per-thread last-error message. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "error_int.h"

/* Per thread, so that calls without a store (loading a schema) and calls from several threads on
 * one store each report their own failure. Fixed size: a message is one line for people; longer
 * ones are cut in the middle, never overflow. */
static _Thread_local char errbuf[1024];
/* The ENT_DETAIL_* of the failure whose message errbuf holds: set and reset with it. */
static _Thread_local int errdetail;

const char *ent_strerror(int code)
{
    switch (code) {
    case ENT_OK: return "success";
    case ENT_NOTFOUND: return "not found";
    case ENT_CONFLICT: return "conflict";
    case ENT_INVALID: return "invalid input";
    case ENT_SCHEMA: return "schema error";
    case ENT_FULL: return "full";
    case ENT_IO: return "I/O error";
    case ENT_CORRUPT: return "corrupt data";
    case ENT_BUSY: return "busy";
    case ENT_NOMEM: return "out of memory";
    case ENT_READONLY: return "read-only";
    case ENT_TIMEOUT: return "timed out";
    case ENT_FORMAT: return "unsupported store format";
    case ENT_TRUNCATED: return "events truncated from the log before they were read";
    default: return "unknown error";
    }
}

const char *ent_errmsg(void) { return errbuf; }

int ent_errdetail(void) { return errdetail; }

/* strerror(EMFILE), read once: strerror() costs ~85 ns here (its locale's catalogue), and every
 * message the library sets (an ENT_NOTFOUND of each get that misses) passes through this check; a
 * host that changes LC_MESSAGES later gets its messages without the limit named. */
static pthread_once_t emfile_once = PTHREAD_ONCE_INIT;
static char emfile_text[128];

static void emfile_init(void) { snprintf(emfile_text, sizeof emfile_text, "%s", strerror(EMFILE)); }

/* "Too many open files" (EMFILE) named no limit, where a file too large names `ulimit -f`: the
 * user was left to guess that this process's descriptors ran out, and how many it may have. Every
 * message that carries it (strerror(), LMDB's mdb_strerror(), a component's) gets the limit
 * appended here, once. "Too many open files in system" (ENFILE) is the system's, not named. */
static size_t name_nofile_limit(char *msg, size_t len, size_t cap)
{
    const char *emfile = emfile_text, *at;
    struct rlimit rl;
    size_t n;
    pthread_once(&emfile_once, emfile_init);
    n = strlen(emfile);
    if (!n || !(at = strstr(msg, emfile)) || strstr(msg, "ulimit -n")) return len;
    if (!strncmp(at + n, " in system", 10) || getrlimit(RLIMIT_NOFILE, &rl) != 0) return len;
    int w = rl.rlim_cur == RLIM_INFINITY ? snprintf(msg + len, cap - len, " (this process's limit of open files, ulimit -n: unlimited)")
                                        : snprintf(msg + len, cap - len, " (this process's limit of open files, ulimit -n: %llu)",
                                                   (unsigned long long)rl.rlim_cur);
    if (w < 0 || (size_t)w >= cap - len) {
        msg[len] = '\0'; /* no room: the message as it was */
        return len;
    }
    return len + (size_t)w;
}

/* Formatted apart, then copied: an argument may be ent_errmsg() itself ("...: %s" around the
 * message of the call that failed), and vsnprintf's source and destination must not overlap
 * (fuzz_mirror found a mirror message doing this). */
static void set_msg(const char *fmt, va_list ap)
{
    char tmp[sizeof errbuf];
    va_list again;
    int n;
    size_t len;
    va_copy(again, ap);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    len = n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    if (n >= 0 && (size_t)n >= sizeof tmp) {
        /* Too long: keep its start and its end. The cause comes last ("store <path>: opening: File
         * name too long"), and a long path or value given by the caller cut at the end took it. */
        char *all = malloc((size_t)n + 1);
        if (all && vsnprintf(all, (size_t)n + 1, fmt, again) == n) {
            static const char cut[] = " [...] ";
            size_t tail = 320, head = sizeof errbuf - 1 - (sizeof cut - 1) - tail;
            const char *t = all + n - tail;
            while (head > 0 && ((unsigned char)all[head] & 0xC0) == 0x80) head--; /* whole UTF-8 characters */
            while (((unsigned char)*t & 0xC0) == 0x80) t++;
            memcpy(tmp, all, head);
            memcpy(tmp + head, cut, sizeof cut - 1);
            len = head + sizeof cut - 1 + (size_t)(all + n - t);
            memcpy(tmp + head + sizeof cut - 1, t, (size_t)(all + n - t));
        }
        free(all);
    }
    va_end(again);
    len = name_nofile_limit(tmp, len, sizeof tmp);
    memcpy(errbuf, tmp, len);
    errbuf[len] = '\0';
}

int ent__err(int code, const char *fmt, ...)
{
    va_list ap;
    errdetail = ENT_DETAIL_NONE; /* a new message: an earlier failure's cause is not this one's */
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return code;
}

int ent__errd(int code, int detail, const char *fmt, ...)
{
    va_list ap;
    errdetail = detail;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return code;
}

/* A component's failure without a format still leaves a message that says so, not the last one. */
static int set_null_fmt(int code)
{
    snprintf(errbuf, sizeof errbuf, "%s (ent_error_set: fmt is NULL)", ent_strerror(code));
    return code;
}

int ent_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    errdetail = ENT_DETAIL_NONE;
    if (!fmt) return set_null_fmt(code); /* vsnprintf(NULL format) is undefined */
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return code;
}

int ent_error_set_detail(int code, int detail, const char *fmt, ...)
{
    va_list ap;
    errdetail = detail >= ENT_DETAIL_NO_SPACE && detail <= ENT_DETAIL_EXHAUSTED ? detail : ENT_DETAIL_NONE;
    if (!fmt) return set_null_fmt(code);
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return code;
}

int ent__err_prefix(int code, const char *fmt, ...)
{
    char old[sizeof errbuf];
    size_t n;
    va_list ap;
    memcpy(old, errbuf, sizeof old);
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    n = strlen(errbuf);
    snprintf(errbuf + n, sizeof errbuf - n, "%s", old);
    return code;
}

void ent__err_clear(void)
{
    errbuf[0] = '\0';
    errdetail = ENT_DETAIL_NONE;
}
