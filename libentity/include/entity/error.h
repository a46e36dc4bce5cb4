/* libentity — status codes and error messages.
 *
 * Every call that can fail returns an int: ENT_OK (0) or one of the negative codes below. The code
 * is the contract; the message is for people. After any failure, ent_errmsg() returns a message for
 * the calling thread that names the thing at fault (file, JSON path, type, field, key, seq).
 *
 * Arguments: a NULL where a call needs a pointer (a handle, an out-parameter, a string, a
 * callback), an unknown enum value or flag bit, is refused, whatever codes the call's own comment
 * lists: ENT_INVALID (the schema builder's names and kinds: ENT_SCHEMA), with a message naming the
 * argument ("ent_get: out is NULL"); nothing is written through it and nothing changes. Calls that
 * return no code (accessors such as ent_type_name()) answer a NULL handle with the neutral value
 * their comment gives (NULL, 0, ""; schema.h's also set the message). A handle that was freed or
 * closed, or that no call of this library made, cannot be told from a valid one: using it is
 * undefined, as with free().
 *
 * Callbacks (event subscribers, ent_txn_run()'s fn, progress and log callbacks): from C++, one must
 * not let an exception out. The library is C: nothing of its state unwinds with the exception (an
 * event callback left so leaves its thread marked inside the delivery, every later write of that
 * thread ENT_BUSY; a fn left so keeps the store's writer: other threads' writes wait for ever).
 * Catch in the callback and return.
 */
#ifndef ENTITY_ERROR_H
#define ENTITY_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ENT_OK = 0,
    ENT_NOTFOUND = -1, /* no such entity, field value, event, subscription, store */
    ENT_CONFLICT = -2, /* exists already, unique violation, version mismatch, still referenced */
    ENT_INVALID = -3,  /* bad input: wrong type, out of range, malformed JSON, bad argument */
    ENT_SCHEMA = -4,   /* bad schema or incompatible schema change */
    ENT_FULL = -5,     /* disk or map full and cannot grow; key or value too large for backend */
    ENT_IO = -6,       /* operating system I/O error */
    ENT_CORRUPT = -7,  /* stored bytes do not decode, store damaged */
    ENT_BUSY = -8,     /* resource busy: store locked, readers exhausted, retry later */
    ENT_NOMEM = -9,    /* out of memory */
    ENT_READONLY = -10, /* write attempted on a read-only store or read transaction */
    ENT_TIMEOUT = -11, /* a wait ended without the awaited event */
    ENT_FORMAT = -12,  /* store written by an incompatible (newer) format version */
    ENT_TRUNCATED = -13 /* events a log cursor had not read yet were truncated from the log
                         * (ent_log_next(); the cursor goes on at the first event kept) */
};

/* Static text describing `code` ("not found", "conflict", ...). Never NULL. */
ENT_EXTERN(const char *) ent_strerror(int code);

/* Message of the last failure on this thread.
 * Borrowed: valid until the next libentity call on this thread. Empty string if none. */
ENT_EXTERN(const char *) ent_errmsg(void);

/* What caused the last failure on this thread, beyond its code: one ENT_DETAIL_* value, or
 * ENT_DETAIL_NONE. Like SQLite's extended result codes, it refines a code without changing it:
 * so far ENT_FULL, whose causes call for different remedies.
 *   ENT_DETAIL_NO_SPACE   the store is out of room: the disk or the quota is full (ENOSPC,
 *                         EDQUOT), data.mdb reached the file size limit (EFBIG, ulimit -f), the
 *                         map cannot grow. Freeing room or raising the limit lets the same call
 *                         succeed.
 *   ENT_DETAIL_TOO_LARGE  the input exceeds a fixed limit of the backend: a key or an index value
 *                         longer than its key limit, a transaction larger than it takes. The same
 *                         call never succeeds: change the input.
 *   ENT_DETAIL_EXHAUSTED  a number the store hands out is used up: a type's auto ids, an entity's
 *                         versions, the store's tables. Neither room nor smaller input helps.
 * Set by the same failing call that sets ent_errmsg(), and with the same lifetime: valid after a
 * call failed, until the next libentity call on this thread; ENT_DETAIL_NONE when the cause has
 * no detail (every code other than ENT_FULL today, and ENT_FULL from ent_error_set()). Where the
 * library hands a message from one thread to another (a group commit's caller, ent_txn_run(), a
 * relay's or a mirror's thread), the detail goes with it. New values may be added at the end: treat an unknown one as NONE. */
enum {
    ENT_DETAIL_NONE = 0,
    ENT_DETAIL_NO_SPACE = 1,
    ENT_DETAIL_TOO_LARGE = 2,
    ENT_DETAIL_EXHAUSTED = 3
};
ENT_EXTERN(int) ent_errdetail(void);

/* For optional components built on the library (entity/nats.h) and wrapping code: set this
 * thread's message (printf format; cut to 1 KiB in the middle, keeping its end; fmt NULL gives a message saying so) and return
 * `code`, so their failures read the same way through ent_errmsg(). The detail becomes
 * ENT_DETAIL_NONE: a new failure says nothing of an earlier one's cause. */
ENT_EXTERN(int) ent_error_set(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* As ent_error_set(), with the failure's ENT_DETAIL_* (ent_errdetail()): for a component that
 * says again, or in its own words around it, what a libentity call's failure said, so that its
 * caller can still tell the causes apart (a mirror whose apply ran out of disk says
 * ENT_DETAIL_NO_SPACE, not NONE). Pass ent_errdetail() read after that failure and before any
 * other libentity call, as its message is. A detail that is not an ENT_DETAIL_* value is NONE. */
ENT_EXTERN(int) ent_error_set_detail(int code, int detail, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
