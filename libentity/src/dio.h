/* Appends to a file through O_DIRECT, staged in an aligned buffer; see dio.c. */
#ifndef ENT_DIO_H
#define ENT_DIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Offsets, lengths and buffers of direct writes are multiples of this (every common device's
 * logical block divides it). */
#define ENT_DIO_ALIGN 4096

typedef struct ent_dio {
    int fd;              /* an O_DIRECT descriptor of the file; -1: none, write buffered */
    unsigned char *buf;  /* cap bytes (up to ENT_DIO_CHUNK), aligned: the staging buffer */
    size_t cap;
    unsigned char *tail; /* ENT_DIO_ALIGN bytes: the block that holds tail_end, as last written */
    uint64_t tail_tag, tail_end;
} ent_dio;

/* Open path for direct writes beside the caller's own descriptor. A file system that refuses
 * O_DIRECT leaves d->fd -1: not an error, the caller writes buffered.
 * The descriptor holds no locks, so closing it never lets go of the caller's own (OFD locks). */
void ent__dio_open(ent_dio *d, const char *path);

/* Close d (also in a child after fork, whose copy must not stay open). */
void ent__dio_close(ent_dio *d);

/* Write v[0..n) at off, whole: the blocks it touches are written once, the first one completed
 * with the bytes before off (kept from the last write when it ended at off with the same tag,
 * else read back), the last one with zeros after the data. tag names the content before off
 * (a write with another tag reads it back). Returns 0 or an errno; EINVAL: this file system
 * refused a direct write (d stops trying; the caller writes the whole of v buffered instead);
 * ENOMEM: no staging buffer (the caller writes this one buffered). */
int ent__dio_pwritev(ent_dio *d, const struct iovec *v, size_t n, uint64_t off, uint64_t tag);

/* Zeros over [off, off + len), both multiples of ENT_DIO_ALIGN. Returns 0 or an errno (EINVAL
 * and ENOMEM as above). */
int ent__dio_zero(ent_dio *d, uint64_t off, uint64_t len);

/* Tests: 1 makes every direct write fail as a file system that refuses them does (EINVAL). */
extern int ent__dio_refuse;

#endif
