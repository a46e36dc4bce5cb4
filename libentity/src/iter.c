/* Index look-ups, range scans and type scans, as iterators over backend cursors.
 *
 * An index entry is (index key, primary key): unique indexes keep one primary key per index key,
 * non-unique ones (DUPSORT) a sorted set, so (index key, primary key) pairs are in index order
 * then key order, and a resume token is the pair last returned. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

ent_value ent_value_bool(int b)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_BOOL;
    v.v.b = b != 0;
    return v;
}
ent_value ent_value_int(int64_t i)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_INT;
    v.v.i = i;
    return v;
}
ent_value ent_value_uint(uint64_t u)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_UINT;
    v.v.u = u;
    return v;
}
ent_value ent_value_float(double f)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_FLOAT;
    v.v.f = f;
    return v;
}
ent_value ent_value_timestamp(int64_t ns)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_TIMESTAMP;
    v.v.i = ns;
    return v;
}
ent_value ent_value_string(const char *s)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_STRING;
    v.v.s.ptr = s;
    v.v.s.len = s ? strlen(s) : 0;
    return v;
}
ent_value ent_value_bytes(const void *p, size_t len)
{
    ent_value v;
    memset(&v, 0, sizeof v);
    v.kind = ENT_KIND_BYTES;
    v.v.s.ptr = p;
    v.v.s.len = len;
    return v;
}

struct ent_iter {
    ent_store *s;
    ent_txn *t;
    ent_txn *own;          /* the iterator's own read txn (no txn given), or NULL */
    pthread_t owner;       /* the thread of its txn: the only one that may move it */
    const ent_type *type;  /* the store's type */
    const ent_field *f;    /* index field, NULL for a type scan */
    unsigned tbl;
    int unique;
    int reverse;
    ent_bcur *cur;
    int state;             /* 0 not started, 1 running, 2 done */
    uint64_t limit, returned;
    ent_buf lo, hi;        /* bounds: index keys, or the start key of a scan (lo) */
    int has_lo, has_hi, exact;
    ent_buf res_ik, res_pk; /* resume position */
    int has_res;
    ent_buf last_ik, last_pk;
    int has_last;
    char *token;
    /* ent_iter_more() looked one pair ahead: the pair, copied (a cursor's data lasts until it
     * moves), for the next ent_iter_next() to take. */
    ent_buf peek_k, peek_v;
    int has_peek;
    /* on t's list of open iterators (ent_txn.iters) until freed or t ends; ended: t ended first
     * (a misuse the header names), the cursor went with it */
    struct ent_iter *inext, *iprev;
    int ended;
};

static int kcmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static void iter_unlink(ent_iter *it)
{
    if (it->iprev) it->iprev->inext = it->inext;
    else if (it->t) it->t->iters = it->inext;
    if (it->inext) it->inext->iprev = it->iprev;
    it->inext = it->iprev = NULL;
}

void ent__iters_end(ent_txn *t)
{
    ent_iter *it;
    while ((it = t->iters)) {
        t->iters = it->inext;
        it->inext = it->iprev = NULL;
        ent__bk_cursor_close(it->s, it->cur);
        it->cur = NULL;
        it->t = NULL;
        it->ended = 1;
    }
}

/* An iterator moved or freed by another thread than its txn's: refused like the txn itself (txn.c), before
 * `ended` is read (the owner sets it when the txn ends). */
static int other_thread(const ent_iter *it)
{
    return !pthread_equal(it->owner, pthread_self());
}

static int other_thread_err(const char *call)
{
    return ent__err(ENT_INVALID, "%s: the iterator belongs to the thread that began its transaction", call);
}

void ent_iter_free(ent_iter *it)
{
    if (!it) return;
    /* Like ent_txn_abort(): another thread's free is refused (the message says so) and leaves the
     * iterator to its owner, who may still use it, and whose lists and txn it would change. */
    if (other_thread(it)) {
        other_thread_err("ent_iter_free");
        return;
    }
    if (!it->ended) {
        iter_unlink(it);
        ent__bk_cursor_close(it->s, it->cur);
    }
    if (it->own) ent_txn_abort(it->own);
    ent__buf_free(&it->lo);
    ent__buf_free(&it->hi);
    ent__buf_free(&it->res_ik);
    ent__buf_free(&it->res_pk);
    ent__buf_free(&it->last_ik);
    ent__buf_free(&it->last_pk);
    ent__buf_free(&it->peek_k);
    ent__buf_free(&it->peek_v);
    free(it->token);
    free(it);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int unhex(ent_buf *b, const char *p, size_t n)
{
    int rc;
    /* Keys are never empty (primary keys are 1..255 bytes or 8-byte ids, index keys at least a
     * byte): an empty half is not a token this library made. */
    if (n == 0 || n % 2) return ent__err(ENT_INVALID, "malformed resume token");
    if ((rc = ent__buf_reserve(b, n / 2))) return rc;
    for (size_t i = 0; i < n; i += 2) {
        int h = hexval(p[i]), l = hexval(p[i + 1]);
        if (h < 0 || l < 0) return ent__err(ENT_INVALID, "malformed resume token");
        b->p[b->n++] = (char)(h << 4 | l);
    }
    return ENT_OK;
}

/* Which table a token belongs to: "k" + hex(type name) + "." for a type scan, "i" + hex(type name)
 * + "." + field id + "." for an index. A token carries it so that a token of another index or type
 * is refused rather than taken as a position in this one (which would silently restart or skip). */
static int token_prefix(char *buf, size_t size, const ent_iter *it)
{
    static const char hx[] = "0123456789abcdef";
    const char *name = it->type->name;
    size_t n = strlen(name), at = 0;
    if (size < 2 * n + 32) return -1;
    buf[at++] = it->f ? 'i' : 'k';
    for (size_t i = 0; i < n; i++) {
        buf[at++] = hx[(uint8_t)name[i] >> 4];
        buf[at++] = hx[(uint8_t)name[i] & 15];
    }
    buf[at++] = '.';
    if (it->f) at += (size_t)snprintf(buf + at, size - at, "%u.", it->f->id);
    buf[at] = '\0';
    return (int)at;
}

/* Token: its prefix (above), then hex(pk) for a scan, hex(ik) + "." + hex(pk) for an index. */
static int parse_resume(ent_iter *it, const char *tok)
{
    char pre[600];
    const char *dot;
    int rc, np;
    if (!tok) return ENT_OK;
    if (tok[0] != (it->f ? 'i' : 'k'))
        return ent__err(ENT_INVALID, "resume token is not from %s", it->f ? "an index scan" : "a type scan");
    if ((np = token_prefix(pre, sizeof pre, it)) < 0) return ent__err(ENT_INVALID, "malformed resume token");
    if (strncmp(tok, pre, (size_t)np) != 0) {
        char path[160];
        if (it->f)
            return ent__err(ENT_INVALID, "resume token is not from a scan of the index on %s",
                            ent__field_path(it->f, path, sizeof path));
        return ent__err(ENT_INVALID, "resume token is not from a scan of type %s", it->type->name);
    }
    tok += np;
    if (it->f) {
        if (!(dot = strchr(tok, '.'))) return ent__err(ENT_INVALID, "malformed resume token");
        if ((rc = unhex(&it->res_ik, tok, (size_t)(dot - tok)))) return rc;
        if ((rc = unhex(&it->res_pk, dot + 1, strlen(dot + 1)))) return rc;
    } else {
        if ((rc = unhex(&it->res_pk, tok, strlen(tok)))) return rc;
    }
    /* A key no entity of the type can have is not a position this library handed out (a token
     * edited by hand, or cut short): taken, the scan resumed at the nearest key without a word. */
    if (it->type->key == ENT_KEY_AUTO ? it->res_pk.n != 8 : it->res_pk.n > 255)
        return ent__err(ENT_INVALID, "malformed resume token: it names a key of %zu bytes, and type %s's keys are %s",
                        it->res_pk.n, it->type->name, it->type->key == ENT_KEY_AUTO ? "8-byte ids" : "1 to 255 bytes");
    it->has_res = 1;
    return ENT_OK;
}

static int iter_new(ent_iter **out, ent_store *s, ent_txn *txn, const ent_range_opts *opts)
{
    ent_iter *it = calloc(1, sizeof *it);
    int rc;
    if (!it) return ent__err(ENT_NOMEM, "out of memory");
    it->s = s;
    it->owner = pthread_self(); /* ent__txn_use() refuses a txn of another thread */
    if ((rc = ent__txn_use(&it->t, s, txn, 0))) {
        free(it);
        return rc;
    }
    if (it->t != txn) it->own = it->t;
    it->inext = it->t->iters;
    if (it->inext) it->inext->iprev = it;
    it->t->iters = it;
    if (opts) {
        if (opts->version != ENT_RANGE_OPTS_VERSION) {
            ent_iter_free(it);
            return ent__err(ENT_INVALID, "range opts version %u, expected %u", opts->version,
                            ENT_RANGE_OPTS_VERSION);
        }
        if (opts->flags & ~(unsigned)ENT_ITER_REVERSE) {
            /* a flag of a later version ignored here would give a silently other order */
            ent_iter_free(it);
            return ent__err(ENT_INVALID, "range opts flags 0x%x: unknown flags 0x%x", opts->flags,
                            opts->flags & ~(unsigned)ENT_ITER_REVERSE);
        }
        it->reverse = (opts->flags & ENT_ITER_REVERSE) != 0;
        it->limit = opts->limit;
    }
    *out = it;
    return ENT_OK;
}

static int index_of(ent_iter *it, const ent_field *f)
{
    char path[160];
    const ent_field *rf;
    int rc = ent__field_resolve(&rf, it->t, f);
    if (rc) return rc;
    if (rf->index_no < 0)
        return ent__err(ENT_INVALID, "%s is not indexed (declare it unique or indexed)",
                        ent__field_path(rf, path, sizeof path));
    it->f = rf;
    it->type = rf->type;
    it->unique = rf->unique;
    it->tbl = it->t->lay->idx[rf->type->pos][rf->index_no];
    return ENT_OK;
}

/* A string given to bound a range over refs to a type of string keys: its index keys are the
 * keys' bytes, 1 to 255 of them. */
static int ref_string_bound(const ent_field *f, const ent_value *v)
{
    return f->kind == ENT_KIND_REF && f->ref_type->key == ENT_KEY_STRING &&
           (v->kind == ENT_KIND_STRING || v->kind == ENT_KIND_BYTES);
}

/* ENT_INVALID when v is a string made from NULL (ent_value_string(NULL)) or bytes of a length
 * at NULL, which (what): "the value", "the range's from", ... Checked before anything reads v:
 * such a string has length 0, and read as "" it bounded a range over refs to string keys as ""
 * does (from the lowest; to: nothing), a silent wrong answer. */
static int null_value(const ent_field *f, const ent_value *v, const char *what)
{
    char path[160];
    if ((v->kind != ENT_KIND_STRING && v->kind != ENT_KIND_BYTES) || v->v.s.ptr ||
        (!v->v.s.len && v->kind == ENT_KIND_BYTES))
        return ENT_OK;
    return ent__err(ENT_INVALID, "%s: %s is a %s value made from NULL", ent__field_path(f, path, sizeof path), what,
                    ent_kind_name(v->kind));
}

/* inexact: NULL for a range bound, else set when no stored value can equal v (see keys.h). */
static int bound(const ent_store *s, ent_buf *b, const ent_field *f, const ent_value *v, int *inexact)
{
    int none, rc;
    if ((rc = null_value(f, v, "the value"))) return rc;
    if (inexact && ref_string_bound(f, v) && (v->v.s.len == 0 || v->v.s.len > ENT_KEY_STRING_MAX)) {
        /* A look-up of a string no key can be ("" or over 255 bytes) finds nothing, as a range
         * bounded by it holds no such key (it was "invalid key" here and a bound there). */
        *inexact = 1;
        b->n = 0;
        return ENT_OK;
    }
    if (!inexact && ref_string_bound(f, v) && v->v.s.len > ENT_KEY_STRING_MAX) {
        /* No key is that long, yet it bounds them as its bytes do: "zzz...z" (300) is above them
         * all. A string field's range takes such a bound up to the backend's key limit; so does
         * this one (it was "invalid key"). */
        b->n = 0;
        if ((rc = ent__buf_append(b, v->v.s.ptr, v->v.s.len))) return rc;
        return ent__bk_ikey_check(&s->bk, f, b->n);
    }
    rc = ent__ikey_from_value(b, f, v, inexact ? inexact : &none);
    if (rc) return rc;
    return ent__bk_ikey_check(&s->bk, f, b->n);
}

int ent_find(ent_iter **out, ent_store *s, ent_txn *txn, const ent_field *f, const ent_value *v)
{
    ent_iter *it = NULL;
    int rc, inexact = 0;
    if (!out || !v) return ent__err(ENT_INVALID, "ent_find: %s is NULL", !out ? "out" : "value");
    *out = NULL;
    if ((rc = iter_new(&it, s, txn, NULL))) return rc;
    if ((rc = index_of(it, f)) || (rc = bound(s, &it->lo, it->f, v, &inexact))) {
        ent_iter_free(it);
        return rc;
    }
    it->has_lo = it->exact = 1;
    if (inexact) it->state = 2; /* done before it starts: no stored value equals v */
    *out = it;
    return ENT_OK;
}

int ent_range(ent_iter **out, ent_store *s, ent_txn *txn, const ent_field *f,
              const ent_range_opts *opts)
{
    ent_iter *it = NULL;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_range: out is NULL");
    *out = NULL;
    if ((rc = iter_new(&it, s, txn, opts))) return rc;
    if ((rc = index_of(it, f))) goto fail;
    if (opts && ((opts->from && (rc = null_value(it->f, opts->from, "the range's from"))) ||
                 (opts->to && (rc = null_value(it->f, opts->to, "the range's to")))))
        goto fail;
    /* "" over refs to string keys (no key is empty): as a lower bound, below every key; as an
     * upper one (exclusive), nothing is below it. */
    if (opts && opts->from && !(ref_string_bound(it->f, opts->from) && opts->from->v.s.len == 0)) {
        if ((rc = bound(s, &it->lo, it->f, opts->from, NULL))) goto fail;
        it->has_lo = 1;
    }
    if (opts && opts->to && ref_string_bound(it->f, opts->to) && opts->to->v.s.len == 0) {
        it->state = 2;
    } else if (opts && opts->to) {
        if ((rc = bound(s, &it->hi, it->f, opts->to, NULL))) goto fail;
        it->has_hi = 1;
    } else if (ent_field_kind(it->f) == ENT_KIND_FLOAT &&
               !(opts && opts->from && opts->from->kind == ENT_KIND_FLOAT && isnan(opts->from->v.f))) {
        /* NaN is no number: its keys sort above +inf, and "from 5 on" must not end with them.
         * An open range of floats stops below NaN unless it starts at NaN. */
        ent_value nan_v = ent_value_float(NAN);
        if ((rc = bound(s, &it->hi, it->f, &nan_v, NULL))) goto fail;
        it->has_hi = 1;
    }
    if (opts && (rc = parse_resume(it, opts->resume))) goto fail;
    *out = it;
    return ENT_OK;
fail:
    ent_iter_free(it);
    return rc;
}

int ent_scan(ent_iter **out, ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *start,
             const ent_range_opts *opts)
{
    ent_iter *it = NULL;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_scan: out is NULL");
    *out = NULL;
    if ((rc = iter_new(&it, s, txn, opts))) return rc;
    if ((rc = ent__type_resolve(&it->type, it->t, type))) goto fail;
    it->tbl = it->t->lay->data[it->type->pos];
    if (start) {
        if (start->kind != it->type->key) {
            rc = ent__err(ENT_INVALID, "%s: start key is not of the type's key kind", it->type->name);
            goto fail;
        }
        if ((rc = ent__pk_encode(&it->lo, start))) goto fail;
        it->has_lo = 1;
    }
    if (opts && (rc = parse_resume(it, opts->resume))) goto fail;
    /* The start bounds the scan as `from` bounds a range, resumed or not: a token of a position
     * before the start (forward; after it, reversed) resumes at the start itself, rather than
     * handing out the entities between the token and the start (a token of another scan of the
     * type: they were "from start" and not). */
    if (it->has_lo && it->has_res) {
        int c = kcmp(it->res_pk.p, it->res_pk.n, it->lo.p, it->lo.n);
        if (it->reverse ? c > 0 : c < 0) it->has_res = 0;
    }
    *out = it;
    return ENT_OK;
fail:
    ent_iter_free(it);
    return rc;
}

/* Position the cursor on the first candidate pair. */
static int iter_start(ent_iter *it, ent_slice *k, ent_slice *v)
{
    int rc;
    if ((rc = ent__bk_cursor_open(it->t, it->tbl, &it->cur))) return rc;
    if (it->has_res) {
        /* Land on the resume pair (or the first pair after it), then step past it. */
        if (it->f) {
            k->data = it->res_ik.p;
            k->len = it->res_ik.n;
            v->data = it->res_pk.p;
            v->len = it->res_pk.n;
            rc = ent__bk_cursor_get(it->s, it->cur, it->unique ? ENT_CUR_SEEK : ENT_CUR_SEEK_PAIR, k, v);
        } else {
            k->data = it->res_pk.p;
            k->len = it->res_pk.n;
            rc = ent__bk_cursor_get(it->s, it->cur, ENT_CUR_SEEK, k, v);
        }
        /* A unique index seeks by value alone, and the entity now at the resume value may not be
         * the one of the token: its key against the token's places it before or after the resume
         * pair, as a duplicate of a non-unique index is placed. */
        int at_value_below = 0, at_value_above = 0;
        if (!rc && it->f && it->unique && kcmp(k->data, k->len, it->res_ik.p, it->res_ik.n) == 0) {
            int c = kcmp(v->data, v->len, it->res_pk.p, it->res_pk.n);
            at_value_below = c < 0;
            at_value_above = c > 0;
        }
        if (it->reverse) {
            if (rc == ENT_NOTFOUND) return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_LAST, k, v);
            if (rc) return rc;
            if (at_value_below) return ENT_OK;
            /* SEEK gave a pair >= the resume pair: step back to the first one below it. */
            return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_PREV, k, v);
        }
        if (rc) return rc;
        {
            const ent_buf *rk = it->f ? &it->res_ik : &it->res_pk;
            int same = kcmp(k->data, k->len, rk->p, rk->n) == 0 && !at_value_above &&
                       (!it->f || it->unique || kcmp(v->data, v->len, it->res_pk.p, it->res_pk.n) == 0);
            if (same) return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_NEXT, k, v);
            return ENT_OK;
        }
    }
    if (!it->reverse) {
        if (it->has_lo) {
            k->data = it->lo.p;
            k->len = it->lo.n;
            return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_SEEK, k, v);
        }
        return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_FIRST, k, v);
    }
    /* Reverse: from the last pair below the upper bound (index: exclusive `to`; exact match: the
     * key itself; scan: the start key, inclusive). */
    if (it->exact || (!it->f && it->has_lo)) {
        k->data = it->lo.p;
        k->len = it->lo.n;
        rc = ent__bk_cursor_get(it->s, it->cur, ENT_CUR_SEEK, k, v);
        if (rc == ENT_NOTFOUND) return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_LAST, k, v);
        if (rc) return rc;
        if (kcmp(k->data, k->len, it->lo.p, it->lo.n) != 0)
            return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_PREV, k, v);
        if (it->exact && !it->unique) {
            /* Last duplicate of the key: walk forward to the end of the key, then back one. */
            while ((rc = ent__bk_cursor_get(it->s, it->cur, ENT_CUR_NEXT, k, v)) == ENT_OK)
                if (kcmp(k->data, k->len, it->lo.p, it->lo.n) != 0) break;
            if (rc == ENT_NOTFOUND) return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_LAST, k, v);
            if (rc) return rc;
            return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_PREV, k, v);
        }
        return ENT_OK;
    }
    if (it->has_hi) {
        k->data = it->hi.p;
        k->len = it->hi.n;
        rc = ent__bk_cursor_get(it->s, it->cur, ENT_CUR_SEEK, k, v);
        if (rc == ENT_NOTFOUND) return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_LAST, k, v);
        if (rc) return rc;
        return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_PREV, k, v);
    }
    return ent__bk_cursor_get(it->s, it->cur, ENT_CUR_LAST, k, v);
}

/* Is the index key k inside the iterator's bounds? -1: not yet (keep going), 0: in, 1: past. */
static int in_bounds(const ent_iter *it, const ent_slice *k)
{
    if (!it->f) {
        if (it->has_lo) {
            int c = kcmp(k->data, k->len, it->lo.p, it->lo.n);
            if (!it->reverse && c < 0) return -1;
            if (it->reverse && c > 0) return -1;
        }
        return 0;
    }
    if (it->exact) return kcmp(k->data, k->len, it->lo.p, it->lo.n) == 0 ? 0 : 1;
    if (!it->reverse) {
        if (it->has_hi && kcmp(k->data, k->len, it->hi.p, it->hi.n) >= 0) return 1;
        if (it->has_lo && kcmp(k->data, k->len, it->lo.p, it->lo.n) < 0) return -1;
    } else {
        if (it->has_lo && kcmp(k->data, k->len, it->lo.p, it->lo.n) < 0) return 1;
        if (it->has_hi && kcmp(k->data, k->len, it->hi.p, it->hi.n) >= 0) return -1;
    }
    return 0;
}

/* Forget the entry ent_iter_more() kept, in a write txn: the txn's own writes since may have
 * created entries between the last one returned and it, moved or removed it (its pair would be
 * taken for damage, ENT_CORRUPT), or changed its record (a type scan keeps the record itself).
 * The iterator goes on after the last entity it returned (or from its start) as if nothing had
 * been kept, so ent_iter_more() changes nothing of what ent_iter_next() gives: it skipped an
 * entity created before the kept one, and a type scan handed out a kept entity deleted since,
 * or its stale record. */
static int peek_drop(ent_iter *it)
{
    int rc;
    it->has_peek = 0;
    if (it->has_last) {
        it->res_ik.n = it->res_pk.n = 0;
        if ((rc = ent__buf_append(&it->res_ik, it->last_ik.p, it->last_ik.n)) ||
            (rc = ent__buf_append(&it->res_pk, it->last_pk.p, it->last_pk.n)))
            return rc;
        it->has_res = 1;
    } /* else from its start: the resume token it was opened with, if any, is still in res_* */
    ent__bk_cursor_close(it->s, it->cur);
    it->cur = NULL;
    it->state = 0;
    return ENT_OK;
}

/* The next pair inside the bounds, or ENT_NOTFOUND (then the iterator is done). */
static int advance(ent_iter *it, ent_slice *k, ent_slice *v)
{
    int rc;
    if (it->has_peek) {
        if (it->t->write) {
            if ((rc = peek_drop(it))) return rc;
        } else {
            it->has_peek = 0;
            k->data = it->peek_k.p;
            k->len = it->peek_k.n;
            v->data = it->peek_v.p;
            v->len = it->peek_v.n;
            return ENT_OK;
        }
    }
    if (it->state == 2) return ENT_NOTFOUND;
    for (;;) {
        int b;
        if (it->state == 0) {
            it->state = 1;
            rc = iter_start(it, k, v);
        } else {
            rc = ent__bk_cursor_get(it->s, it->cur, it->reverse ? ENT_CUR_PREV : ENT_CUR_NEXT, k, v);
        }
        if (rc == ENT_NOTFOUND) break;
        if (rc) return rc;
        b = in_bounds(it, k);
        if (b > 0) break;
        if (b == 0) return ENT_OK;
    }
    it->state = 2;
    return ENT_NOTFOUND;
}

static int ended_err(const char *call)
{
    return ent__err(ENT_INVALID, "%s: the iterator's transaction has ended (free an iterator before its transaction ends)", call);
}

/* The entity an index entry (ik, pk) leads to, read in txn t: the record at pk, decoded, with its
 * key. Damage is ENT_CORRUPT naming the entity: a missing record, a bad key, a record that does
 * not decode, or one that does not hold the entry's value. An index entry finds candidates; it is
 * not trusted to say what they hold: an entry left under another value (a bug, a tool writing
 * behind the store) returned its entity as a match for a value it does not hold, silently. The
 * check is one compare per entity returned (ent__ikey_matches()). f NULL: a type scan
 * (pk and rec are the pair the cursor gave). */
static int entity_at(ent_entity **out, ent_txn *t, const ent_type *type, const ent_field *f, const ent_slice *ik,
                     const ent_slice *pk, const ent_slice *rec_in)
{
    char kb[300];
    ent_slice rec;
    ent_entity *e = NULL;
    ent_key key;
    int rc;
    *out = NULL;
    if ((rc = ent__pk_decode(&key, type->key, pk->data, pk->len))) return ent__err_prefix(rc, "%s: ", type->name);
    if (f) {
        rc = ent__bk_get(t, t->lay->data[type->pos], pk, &rec);
        if (rc == ENT_NOTFOUND)
            return ent__err(ENT_CORRUPT, "%s %s: index %s has an entry for a missing entity", type->name,
                            ent__key_str(&key, kb, sizeof kb), f->name);
        if (rc) return rc;
    } else {
        rec = *rec_in;
    }
    if ((rc = ent__record_read(&e, type, rec.data, rec.len))) {
        if (rc == ENT_CORRUPT) ent__err_prefix(rc, "%s %s: ", type->name, ent__key_str(&key, kb, sizeof kb));
        return rc;
    }
    if (f && !ent__ikey_matches(f, &e->slots[f->pos], ik->data, ik->len)) {
        rc = ent__err(ENT_CORRUPT, "%s %s: index %s has an entry for a value the entity does not hold", type->name,
                      ent__key_str(&key, kb, sizeof kb), f->name);
        goto fail;
    }
    if ((rc = ent_entity_set_key(e, &key))) goto fail;
    *out = e;
    return ENT_OK;
fail:
    ent_entity_free(e);
    return rc;
}

int ent_iter_next(ent_entity **out, ent_iter *it)
{
    ent_slice k, v, pk, ik;
    ent_entity *e = NULL;
    int rc;
    if (!out || !it) return ent__err(ENT_INVALID, "ent_iter_next: %s is NULL", !out ? "out" : "iterator");
    *out = NULL;
    if (other_thread(it)) return other_thread_err("ent_iter_next");
    if (it->ended) return ended_err("ent_iter_next");
    if (it->limit && it->returned >= it->limit) goto done;
    rc = advance(it, &k, &v);
    if (rc == ENT_NOTFOUND) goto done;
    if (rc) return rc;
    pk = it->f ? v : k;
    it->last_ik.n = it->last_pk.n = 0;
    if ((it->f && (rc = ent__buf_append(&it->last_ik, k.data, k.len))) ||
        (rc = ent__buf_append(&it->last_pk, pk.data, pk.len)))
        return rc;
    it->has_last = 1;
    /* From the copies: the record's read may move the cursor's pages (a write txn's). */
    ik.data = it->last_ik.p;
    ik.len = it->last_ik.n;
    pk.data = it->last_pk.p;
    pk.len = it->last_pk.n;
    if ((rc = entity_at(&e, it->t, it->type, it->f, &ik, &pk, &v))) return rc;
    it->returned++;
    *out = e;
    return ENT_OK;
done:
    return ent__err(ENT_NOTFOUND, "no more entities");
}

int ent_iter_more(ent_iter *it)
{
    ent_slice k, v;
    int rc;
    if (!it) return ent__err(ENT_INVALID, "ent_iter_more: iterator is NULL");
    if (other_thread(it)) return other_thread_err("ent_iter_more");
    if (it->ended) return ended_err("ent_iter_more");
    if (it->has_peek) {
        /* a read snapshot does not change: the entry kept is still the next; a write txn's own
         * writes may have changed what is (peek_drop()) */
        if (!it->t->write) return 1;
        if ((rc = peek_drop(it))) return rc;
    }
    rc = advance(it, &k, &v);
    if (rc == ENT_NOTFOUND) return 0;
    if (rc) return rc;
    it->peek_k.n = it->peek_v.n = 0;
    if ((rc = ent__buf_append(&it->peek_k, k.data, k.len)) || (rc = ent__buf_append(&it->peek_v, v.data, v.len)))
        return rc;
    it->has_peek = 1;
    return 1;
}

const char *ent_iter_resume(ent_iter *it)
{
    static const char hx[] = "0123456789abcdef";
    char pre[600];
    size_t n;
    int np;
    char *p;
    if (!it || !it->has_last || (np = token_prefix(pre, sizeof pre, it)) < 0) return NULL;
    n = (size_t)np + 2 * (it->last_ik.n + it->last_pk.n) + 2;
    p = realloc(it->token, n);
    if (!p) return NULL;
    it->token = p;
    memcpy(p, pre, (size_t)np);
    p += np;
    if (it->f) {
        for (size_t i = 0; i < it->last_ik.n; i++) {
            *p++ = hx[(uint8_t)it->last_ik.p[i] >> 4];
            *p++ = hx[(uint8_t)it->last_ik.p[i] & 15];
        }
        *p++ = '.';
    }
    for (size_t i = 0; i < it->last_pk.n; i++) {
        *p++ = hx[(uint8_t)it->last_pk.p[i] >> 4];
        *p++ = hx[(uint8_t)it->last_pk.p[i] & 15];
    }
    *p = '\0';
    return it->token;
}

int ent_find_unique(ent_entity **out, ent_store *s, ent_txn *txn, const ent_field *f,
                    const ent_value *v)
{
    /* Two point look-ups (index entry, then record) rather than an iterator with its cursor:
     * on the memory backend a get is a hash probe where a cursor seek walks the tree. */
    ent_iter it;
    ent_txn *t = NULL;
    ent_slice ik, pk;
    ent_entity *e = NULL;
    int rc, inexact = 0;
    char path[160];
    if (!out || !v) return ent__err(ENT_INVALID, "ent_find_unique: %s is NULL", !out ? "out" : "value");
    *out = NULL;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    memset(&it, 0, sizeof it);
    it.t = t;
    if ((rc = index_of(&it, f)) || (rc = bound(s, &it.lo, it.f, v, &inexact))) goto out;
    if (!it.unique) {
        rc = ent__err(ENT_INVALID, "%s is not unique", ent__field_path(it.f, path, sizeof path));
        goto out;
    }
    ik.data = it.lo.p;
    ik.len = it.lo.n;
    rc = inexact ? ENT_NOTFOUND : ent__bk_get(t, it.tbl, &ik, &pk);
    if (rc == ENT_NOTFOUND) rc = ent__err(rc, "no %s with that %s", it.type->name, it.f->name);
    if (rc) goto out;
    rc = entity_at(&e, t, it.type, it.f, &ik, &pk, NULL);
out:
    ent__buf_free(&it.lo);
    rc = ent__txn_end(t, txn, rc, 0);
    if (rc == ENT_OK) *out = e;
    else ent_entity_free(e);
    return rc;
}
