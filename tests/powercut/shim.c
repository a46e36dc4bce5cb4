/* LD_PRELOAD shim for the power-cut test: records, in the order they take effect, every write to
 * a file named data.mdb or wal (the store's write-ahead file; with its offset and bytes, and whether its descriptor is O_DSYNC, which
 * makes that one write durable on return), every fsync/fdatasync of one (which makes all writes
 * to that file before it durable), and every line a process writes to a file named acks (the acknowledgements
 * of the program under test). A power cut after any record can then be played back: the disk holds
 * what was durable, plus any mix of the writes after it (powercut.c).
 *
 * One lock around each recorded call and its record: the log's order is the order of the effects
 * (a write that the lock put after a sync is after it on the disk too). Anything else that could
 * change data.mdb (a truncation, a write through an untracked path) is recorded as 'X', which
 * fails the test rather than letting it check less than it says. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "powercut.h"

#define MAX_FD 4096

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -2;                 /* -2: not opened yet, -1: no log (POWERCUT_LOG unset) */
static unsigned char kind[MAX_FD];      /* 0 untracked, 1 data.mdb, 2 data.mdb O_DSYNC, 3 acks,
                                         * 4 wal, 5 wal O_DSYNC */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);
static int (*real_ftruncate)(int, off_t);

__attribute__((constructor)) static void init(void)
{
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_open = dlsym(RTLD_NEXT, "open");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_close = dlsym(RTLD_NEXT, "close");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
}

static void put_all(const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = real_write(log_fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) abort(); /* a log cut short would check less than it says */
        c += w;
        n -= (size_t)w;
    }
}

/* Under mu. */
static void record(char op, int file, uint64_t off, const void *data, uint32_t len)
{
    pc_rec r;
    if (log_fd == -2) {
        const char *p = getenv("POWERCUT_LOG");
        log_fd = p ? real_open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    }
    if (log_fd < 0) return;
    memset(&r, 0, sizeof r);
    r.op = op;
    r.file = (char)file;
    r.len = len;
    r.off = off;
    put_all(&r, sizeof r);
    if (len) put_all(data, len);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0 && (n == m || s[n - m - 1] == '/');
}

static int track_open(int fd, const char *path, int flags)
{
    if (fd < 0 || fd >= MAX_FD) return fd;
    int dsync = (flags & O_DSYNC) == O_DSYNC;
    kind[fd] = ends_with(path, "data.mdb") ? (dsync ? 2 : 1) : ends_with(path, "acks") ? 3 : ends_with(path, "wal") ? (dsync ? 5 : 4) : 0;
    return fd;
}

static int tracked(int fd) { return fd >= 0 && fd < MAX_FD ? kind[fd] : 0; }

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    va_list ap;
    int fd;
    va_start(ap, flags);
    if (flags & (O_CREAT | O_TMPFILE)) mode = va_arg(ap, mode_t);
    va_end(ap);
    pthread_mutex_lock(&mu);
    fd = track_open(real_open(path, flags, mode), path, flags);
    pthread_mutex_unlock(&mu);
    return fd;
}

/* The *64 calls are the plain ones where off_t is 64 bits: one path for both. */
_Static_assert(sizeof(off_t) == 8, "the shim takes open64 and pwrite64 for open and pwrite");
int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    va_list ap;
    va_start(ap, flags);
    if (flags & (O_CREAT | O_TMPFILE)) mode = va_arg(ap, mode_t);
    va_end(ap);
    return open(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    va_list ap;
    int fd;
    va_start(ap, flags);
    if (flags & (O_CREAT | O_TMPFILE)) mode = va_arg(ap, mode_t);
    va_end(ap);
    pthread_mutex_lock(&mu);
    fd = track_open(real_openat(dirfd, path, flags, mode), path, flags);
    pthread_mutex_unlock(&mu);
    return fd;
}

int close(int fd)
{
    int rc;
    pthread_mutex_lock(&mu);
    rc = real_close(fd);
    if (fd >= 0 && fd < MAX_FD) kind[fd] = 0;
    pthread_mutex_unlock(&mu);
    return rc;
}

/* A write of n bytes at off through a descriptor of kind k that wrote w of them. */
static void record_write(int k, uint64_t off, const void *p, ssize_t w)
{
    if (w <= 0) return;
    if (k == 3) record('A', 0, 0, p, (uint32_t)w);
    else record(k == 2 || k == 5 ? 'D' : 'W', k >= 4, off, p, (uint32_t)w);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
    int k = tracked(fd);
    ssize_t w;
    if (!k) return real_pwrite(fd, p, n, off);
    pthread_mutex_lock(&mu);
    w = real_pwrite(fd, p, n, off);
    record_write(k, (uint64_t)off, p, w);
    pthread_mutex_unlock(&mu);
    return w;
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off) { return pwrite(fd, p, n, off); }

ssize_t write(int fd, const void *p, size_t n)
{
    int k = tracked(fd);
    ssize_t w;
    off_t off;
    if (!k) return real_write(fd, p, n);
    pthread_mutex_lock(&mu);
    off = lseek(fd, 0, SEEK_CUR);
    w = real_write(fd, p, n);
    record_write(k, (uint64_t)off, p, w);
    pthread_mutex_unlock(&mu);
    return w;
}

/* The iovecs' first w bytes, recorded as one write each. */
static void record_iov(int k, uint64_t off, const struct iovec *iov, int cnt, ssize_t w)
{
    for (int i = 0; i < cnt && w > 0; i++) {
        ssize_t n = (ssize_t)iov[i].iov_len < w ? (ssize_t)iov[i].iov_len : w;
        record_write(k, off, iov[i].iov_base, n);
        off += (uint64_t)n;
        w -= n;
    }
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    int k = tracked(fd);
    ssize_t w;
    off_t off;
    if (!k) return real_writev(fd, iov, cnt);
    pthread_mutex_lock(&mu);
    off = lseek(fd, 0, SEEK_CUR);
    w = real_writev(fd, iov, cnt);
    record_iov(k, (uint64_t)off, iov, cnt, w);
    pthread_mutex_unlock(&mu);
    return w;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    int k = tracked(fd);
    ssize_t w;
    if (!k) return real_pwritev(fd, iov, cnt, off);
    pthread_mutex_lock(&mu);
    w = real_pwritev(fd, iov, cnt, off);
    record_iov(k, (uint64_t)off, iov, cnt, w);
    pthread_mutex_unlock(&mu);
    return w;
}

static int sync_as(int (*real)(int), int fd)
{
    int k = tracked(fd), rc;
    if (k != 1 && k != 2 && k != 4 && k != 5) return real(fd);
    pthread_mutex_lock(&mu);
    rc = real(fd);
    if (rc == 0) record('S', k >= 4, 0, NULL, 0);
    pthread_mutex_unlock(&mu);
    return rc;
}

int fsync(int fd) { return sync_as(real_fsync, fd); }
int fdatasync(int fd) { return sync_as(real_fdatasync, fd); }

static int truncate_as(int (*real)(int, off_t), int fd, off_t len)
{
    int k = tracked(fd), rc;
    if (k != 1 && k != 2 && k != 4 && k != 5) return real(fd, len);
    pthread_mutex_lock(&mu);
    rc = real(fd, len);
    if (rc == 0) record('X', k >= 4, (uint64_t)len, "ftruncate", 9);
    pthread_mutex_unlock(&mu);
    return rc;
}

int ftruncate(int fd, off_t len) { return truncate_as(real_ftruncate, fd, len); }
int ftruncate64(int fd, off_t len) { return truncate_as(real_ftruncate, fd, len); }
