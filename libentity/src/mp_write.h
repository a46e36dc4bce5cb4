/* msgpack written straight into an ent_buf.
 *
 * msgpack-c's packer (msgpack_packer) calls a function pointer for every item it writes: a record
 * of 8 fields is ~40 indirect calls, each with its own room check, and it cost more than the rest
 * of the encoding (callgrind, `entity bench --plain`). pack.h builds msgpack_pack_*() from the
 * template pack_template.h with that callback; this header instantiates the same template (the
 * same encoder, not a second one) as ent__mpw_*(ent_buf *b, ...) with an inline append whose slow
 * path (growing the buffer) is out of line.
 *
 * Each call returns 0 or -1 (out of memory). A failure is sticky: the buffer's cap is set to
 * SIZE_MAX and every later write fails too, so a caller can write a whole record and check once
 * with ent__buf_ok() at the end. */
#ifndef ENT_MP_WRITE_H
#define ENT_MP_WRITE_H

#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"

/* Append n bytes when the room check fails: grows b, or marks it failed. Returns 0 or -1. */
int ent__buf_put_slow(ent_buf *b, const void *p, size_t n);

static inline int ent__buf_put(ent_buf *b, const void *p, size_t n)
{
    if (b->cap - b->n >= n && b->cap != SIZE_MAX) {
        memcpy(b->p + b->n, p, n);
        b->n += n;
        return 0;
    }
    return ent__buf_put_slow(b, p, n);
}

#define msgpack_pack_inline_func(name) static inline int ent__mpw##name
#define msgpack_pack_inline_func_fixint(name) static inline int ent__mpw_fix##name
#define msgpack_pack_user ent_buf *
#define msgpack_pack_append_buffer(user, buf, len) return ent__buf_put(user, buf, len)
/* the template's timestamp writer calls msgpack_pack_ext() by name */
#define msgpack_pack_ext ent__mpw_ext
#include <msgpack/pack_template.h>
#undef msgpack_pack_ext

/* The same template once more as ent__mpr_*(unsigned char **w, ...): each writes at *w and
 * moves it on, without a room check. For a caller that reserved room for a bound of what it
 * writes (ent__record_encode_valid(): one check per field instead of one per item). */
#undef msgpack_pack_inline_func
#undef msgpack_pack_inline_func_fixint
#define msgpack_pack_inline_func(name) static inline int ent__mpr##name
#define msgpack_pack_inline_func_fixint(name) static inline int ent__mpr_fix##name
#define msgpack_pack_user unsigned char **
#define msgpack_pack_append_buffer(user, buf, len) return (memcpy(*(user), buf, len), *(user) += (len), 0)
#define msgpack_pack_ext ent__mpr_ext
#include <msgpack/pack_template.h>
#undef msgpack_pack_ext

static inline int ent__mpw_str_with_body(ent_buf *b, const void *p, size_t n)
{
    return ent__mpw_str(b, n) || ent__mpw_str_body(b, p, n) ? -1 : 0;
}

static inline int ent__mpw_bin_with_body(ent_buf *b, const void *p, size_t n)
{
    return ent__mpw_bin(b, n) || ent__mpw_bin_body(b, p, n) ? -1 : 0;
}

#endif
