/* Direct writes of the write-ahead file's records (O_DIRECT).
 *
 * Why. A durable commit writes its record and syncs it at once, so the page cache only adds a
 * copy and a writeback to the sync: through O_DIRECT the write goes to the device when it is
 * made, and the sync that follows is the device's cache flush. Measured on this project's machine
 * (README, "Records written directly"): a group's record and sync ~9 us shorter, less CPU per
 * commit.
 *
 * O_DIRECT wants aligned buffers, offsets and lengths, and records are neither: each record is
 * staged in an aligned buffer, up to ENT_DIO_CHUNK at a time, behind the bytes of its first block
 * that come before it (the end of the last record, kept from the last write) and followed by
 * zeros to the block's end. Rewriting the last record's end block with the same bytes is what the
 * page cache's writeback did too. */
#include "dio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENT_DIO_CHUNK ((size_t)1 << 20)

static void forget_tail(ent_dio *d)
{
    d->tail_tag = 0;
    d->tail_end = UINT64_MAX;
}

void ent__dio_open(ent_dio *d, const char *path)
{
    void *b = NULL, *t = NULL;
    d->fd = -1;
    d->buf = d->tail = NULL;
    forget_tail(d);
    if (posix_memalign(&b, ENT_DIO_ALIGN, ENT_DIO_CHUNK) || posix_memalign(&t, ENT_DIO_ALIGN, ENT_DIO_ALIGN)) {
        free(b);
        return;
    }
    d->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (d->fd < 0) {
        free(b);
        free(t);
        return;
    }
    d->buf = b;
    d->tail = t;
}

void ent__dio_close(ent_dio *d)
{
    if (d->fd >= 0) close(d->fd);
    d->fd = -1;
    free(d->buf);
    free(d->tail);
    d->buf = d->tail = NULL;
}

/* A refusal of direct I/O (EINVAL: a file system that took the open but not the write, or wants
 * larger blocks) ends its use; closing the descriptor lets go of no lock (see ent__dio_open). */
static int dio_err(ent_dio *d, int err)
{
    forget_tail(d);
    if (err == EINVAL) {
        free(d->buf);
        free(d->tail);
        d->buf = d->tail = NULL;
        close(d->fd);
        d->fd = -1;
    }
    return err;
}

static int write_all(int fd, const unsigned char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int ent__dio_refuse;

int ent__dio_pwritev(ent_dio *d, const struct iovec *v, size_t n, uint64_t off, uint64_t tag)
{
    uint64_t pos = off & ~(uint64_t)(ENT_DIO_ALIGN - 1); /* the file offset of buf[0] */
    size_t at = (size_t)(off - pos), k;
    int err;
    if (d->fd < 0) return EINVAL;
    if (ent__dio_refuse) return dio_err(d, EINVAL);
    if (at) {
        if (d->tail_tag == tag && d->tail_end == off) {
            memcpy(d->buf, d->tail, at);
        } else {
            ssize_t r;
            do r = pread(d->fd, d->buf, ENT_DIO_ALIGN, (off_t)pos);
            while (r < 0 && errno == EINTR);
            if (r < 0) return dio_err(d, errno);
            if ((size_t)r < at) return dio_err(d, EIO); /* the block before off is the file's */
        }
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = v[i].iov_base;
        size_t len = v[i].iov_len;
        while (len) {
            k = ENT_DIO_CHUNK - at < len ? ENT_DIO_CHUNK - at : len;
            memcpy(d->buf + at, p, k);
            at += k;
            p += k;
            len -= k;
            if (at == ENT_DIO_CHUNK) {
                if ((err = write_all(d->fd, d->buf, at, pos))) return dio_err(d, err);
                pos += at;
                at = 0;
            }
        }
    }
    d->tail_tag = tag;
    d->tail_end = pos + at;
    if (at) {
        size_t end = (at + ENT_DIO_ALIGN - 1) & ~(size_t)(ENT_DIO_ALIGN - 1);
        memset(d->buf + at, 0, end - at);
        if ((err = write_all(d->fd, d->buf, end, pos))) return dio_err(d, err);
        memcpy(d->tail, d->buf + end - ENT_DIO_ALIGN, ENT_DIO_ALIGN);
    }
    return 0;
}

int ent__dio_zero(ent_dio *d, uint64_t off, uint64_t len)
{
    int err;
    if (d->fd < 0) return EINVAL;
    if (ent__dio_refuse) return dio_err(d, EINVAL);
    if ((off | len) & (ENT_DIO_ALIGN - 1)) return EINVAL;
    forget_tail(d); /* the tail may lie in what is zeroed */
    memset(d->buf, 0, len < ENT_DIO_CHUNK ? (size_t)len : ENT_DIO_CHUNK);
    while (len) {
        size_t k = len < ENT_DIO_CHUNK ? (size_t)len : ENT_DIO_CHUNK;
        if ((err = write_all(d->fd, d->buf, k, off))) return dio_err(d, err);
        off += k;
        len -= k;
    }
    return 0;
}
