/* Differential test of the backends: the same seeded random sequence of public API calls runs on a
 * memory store and an LMDB store of the same random schema (1-3 types, auto and string keys, every
 * field kind, unique and non-unique indexes, refs, defaults, required fields and limits); every
 * return code, error message, returned entity (as JSON), in-process event, scan and range order
 * with limits, reverse and resume tokens, long-lived iterator and log cursor, durable subscription,
 * log bound and count must be equal, and so must the final dump (every entity and event), which
 * ent_store_verify() must find clean on both sides.
 * Calls: create, replace, update, upsert, get+patch+update, delete, restore (versions up to
 * 2^64-2), get/exists, find/find_unique/range, scan, explicit read and write transactions
 * (commit, abort; reads and writes beside them with txn NULL), ent_txn_run (kept or undone),
 * counts, log bounds/get/cursors/wait, ent_sub_* and truncation.
 * Left out, as the backends differ there by design: event timestamps, the store's directory in
 * messages, ent_store_get_info(), ent_store_copy(), reopening (a memory store is new at each
 * open, so schema evolution cannot run on it) and map growth.
 * Usage: diff_backends [first_seed [n_seeds [ops_per_seed]]]; prints the first difference (seed,
 * op number, schema, both transcripts) and exits 1, else 0. PDIFF_KEEP_GOING=1 runs on after a
 * difference; PDIFF_VERBOSE=2 prints every op's transcript. */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "entity/entity.h"
#include "../test_tmp.h"

/* ---- rng and text buffers --------------------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }
static int chance(unsigned pct) { return rn(100) < pct; }

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;
static void bprintf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)need + 1 > b->cap) {
        b->cap = (b->n + (size_t)need + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap2);
    va_end(ap2);
    b->n += (size_t)need;
}
static void breset(buf *b)
{
    b->n = 0;
    if (b->p) b->p[0] = 0;
}

/* ---- random schema ---------------------------------------------------------------------------- */

enum { NT_MAX = 3, NF_MAX = 7 };
static const char *const kinds[] = {"bool", "int", "uint", "float", "string", "bytes", "timestamp",
                                    "array", "map", "ref"};
typedef struct fdesc {
    int kind; /* index in kinds */
    int sub;  /* array: 0 strings, 1 ints; map: 0 free-form, 1 declared */
    int ref_to;
} fdesc;
typedef struct tdesc {
    int auto_key;
    int nf;
    fdesc f[NF_MAX];
} tdesc;
static int nt;
static tdesc td[NT_MAX];

static void scalar_json(buf *b, int kind, int ref_to);

static void gen_schema(buf *b)
{
    nt = 1 + (int)rn(NT_MAX);
    for (int t = 0; t < nt; t++) td[t].auto_key = chance(50);
    bprintf(b, "{\"schema\":\"diff\",\"version\":1,\"types\":{");
    for (int t = 0; t < nt; t++) {
        tdesc *d = &td[t];
        d->nf = 1 + (int)rn(NF_MAX);
        bprintf(b, "%s\"t%d\":{\"key\":\"%s\",\"fields\":{", t ? "," : "", t, d->auto_key ? "auto" : "string");
        for (int i = 0; i < d->nf; i++) {
            fdesc *f = &d->f[i];
            f->kind = (int)rn(10);
            f->sub = (int)rn(2);
            f->ref_to = (int)rn((unsigned)nt);
            bprintf(b, "%s\"f%d\":{\"id\":%d,\"type\":\"%s\"", i ? "," : "", i, i + 1, kinds[f->kind]);
            if (f->kind == 7) bprintf(b, ",\"items\":{\"type\":\"%s\"}", f->sub ? "int" : "string");
            if (f->kind == 8 && f->sub)
                bprintf(b, ",\"fields\":{\"w\":{\"id\":1,\"type\":\"string\"},\"h\":{\"id\":2,\"type\":\"int\"}}");
            if (f->kind == 9) bprintf(b, ",\"to\":\"t%d\"", f->ref_to);
            if (f->kind <= 6 || f->kind == 9) {
                int r = (int)rn(10);
                if (r < 2) bprintf(b, ",\"unique\":true");
                else if (r < 5 && f->kind != 9) bprintf(b, ",\"indexed\":true");
            }
            if (f->kind == 4 && chance(20)) bprintf(b, ",\"max_length\":2");
            if (f->kind == 1 && chance(20)) bprintf(b, ",\"min\":-2,\"max\":100");
            if (f->kind <= 6 && f->kind != 3 && chance(15)) {
                bprintf(b, ",\"default\":");
                scalar_json(b, f->kind, 0);
            } else if (f->kind <= 6 && chance(8)) {
                bprintf(b, ",\"required\":true");
            }
            bprintf(b, "}");
        }
        bprintf(b, "}}");
    }
    bprintf(b, "}}");
}

/* ---- random values --------------------------------------------------------------------------- */

static const char *const strs[] = {"", "a", "b", "ab", "\xc3\xa9", "zz", "a\\u0000b"};
static void key_json(buf *b, int t)
{
    if (td[t].auto_key) {
        if (chance(2)) bprintf(b, "%s", rn(2) ? "18446744073709551615" : "4294967296");
        else bprintf(b, "%u", 1 + rn(8));
    } else {
        bprintf(b, "\"k%u\"", rn(6));
    }
}
static void scalar_json(buf *b, int kind, int ref_to)
{
    switch (kind) {
    case 0: bprintf(b, rn(2) ? "true" : "false"); break;
    case 1: {
        static const char *const v[] = {"-2", "-1", "0", "1", "2", "100", "-9223372036854775808",
                                        "9223372036854775807", "101"};
        bprintf(b, "%s", v[rn(9)]);
        break;
    }
    case 2: {
        static const char *const v[] = {"0", "1", "2", "\"18446744073709551615\"", "\"9223372036854775808\""};
        bprintf(b, "%s", v[rn(5)]);
        break;
    }
    case 3: {
        static const char *const v[] = {"0.0", "-0.0", "1.5", "-1.5", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "1e300"};
        bprintf(b, "%s", v[rn(8)]);
        break;
    }
    case 4:
        if (chance(2)) {
            bprintf(b, "\"");
            for (int i = 0; i < 600; i++) bprintf(b, "x");
            bprintf(b, "\"");
        } else {
            bprintf(b, "\"%s\"", strs[rn(7)]);
        }
        break;
    case 5: {
        static const char *const v[] = {"\"\"", "\"AA==\"", "\"AQI=\"", "\"YWI=\"", "\"/w==\""};
        bprintf(b, "%s", v[rn(5)]);
        break;
    }
    case 6: {
        static const char *const v[] = {"0", "-1", "1", "1000000000000000000", "\"2026-12-03T10:00:00.000000001Z\""};
        bprintf(b, "%s", v[rn(5)]);
        break;
    }
    case 9: key_json(b, ref_to); break;
    }
}
static void value_json(buf *b, const fdesc *f)
{
    if (f->kind == 7) {
        unsigned n = rn(3);
        bprintf(b, "[");
        for (unsigned i = 0; i < n; i++) {
            if (i) bprintf(b, ",");
            scalar_json(b, f->sub ? 1 : 4, 0);
        }
        bprintf(b, "]");
    } else if (f->kind == 8) {
        if (f->sub) bprintf(b, rn(2) ? "{\"w\":\"x\"}" : "{\"w\":\"y\",\"h\":3}");
        else bprintf(b, rn(2) ? "{\"x\":1,\"y\":\"z\"}" : "{\"n\":null,\"a\":[1,{\"b\":2}]}");
    } else {
        scalar_json(b, f->kind, f->ref_to);
    }
}
/* A look-up text for ent_value_parse(). */
static void lookup_text(buf *b, const fdesc *f)
{
    switch (f->kind) {
    case 0: bprintf(b, rn(2) ? "true" : "false"); break;
    case 1: {
        static const char *const v[] = {"-2", "-1", "0", "1", "2", "100"};
        bprintf(b, "%s", v[rn(6)]);
        break;
    }
    case 2: bprintf(b, "%s", rn(2) ? "1" : "18446744073709551615"); break;
    case 3: {
        static const char *const v[] = {"0", "-0.0", "1.5", "-1.5", "NaN", "Infinity", "-Infinity"};
        bprintf(b, "%s", v[rn(7)]);
        break;
    }
    case 4: bprintf(b, "%s", strs[rn(6)]); break;
    case 5: bprintf(b, "%s", rn(2) ? "AQI=" : ""); break;
    case 6: bprintf(b, "%s", rn(2) ? "0" : "1"); break;
    case 9:
        if (td[f->ref_to].auto_key) bprintf(b, "%u", 1 + rn(8));
        else bprintf(b, "k%u", rn(6));
        break;
    }
}

/* ---- the two sides ---------------------------------------------------------------------------- */

typedef struct side {
    const char *backend;
    char dir[ENT_TEST_PATH_MAX];
    ent_store *s;
    ent_txn *txn; /* explicit transaction or NULL */
    int txn_write;
    ent_subscriber *sub;
    ent_iter *it; /* a long-lived iterator, stepped across other ops */
    ent_log_cursor *cur; /* a long-lived log cursor */
    char tok[1024];      /* the last resume token seen, offered to other scans */
    buf events; /* in-process deliveries since the last op */
    buf out;    /* this op's transcript */
} side;

static void on_event(const ent_event *ev, void *payload);

static void ev_text(buf *b, const ent_event *ev)
{
    char *j = NULL;
    if (ev->data) ent_entity_to_json(&j, ev->data, 0);
    bprintf(b, "{seq %llu txn %llu %s ", (unsigned long long)ev->seq, (unsigned long long)ev->txn,
            ev->type ? ent_type_name(ev->type) : "?");
    if (ev->key.kind == ENT_KEY_AUTO) bprintf(b, "#%llu", (unsigned long long)ev->key.id);
    else bprintf(b, "'%.*s'", (int)ev->key.len, ev->key.str);
    bprintf(b, " op %d v%llu %s}\n", ev->op, (unsigned long long)ev->version, j ? j : "-");
    free(j);
}
static void on_event(const ent_event *ev, void *payload) { ev_text(&((side *)payload)->events, ev); }

static void rcmsg(side *sd, const char *what, int rc)
{
    const char *m = rc ? ent_errmsg() : "";
    bprintf(&sd->out, "%s -> %d %s\n", what, rc, m);
}
static void ent_text(side *sd, const ent_entity *e)
{
    char *j = NULL;
    int rc = ent_entity_to_json(&j, e, ENT_JSON_ENTITY);
    bprintf(&sd->out, "  %s\n", rc ? "(to_json failed)" : j);
    free(j);
}
/* Reads: a third run outside the transaction (they see the last commit). */
static ent_txn *tx(side *sd) { return sd->txn && chance(30) ? NULL : sd->txn; }
/* Writes: beside a read transaction, half of them run on their own (allowed: the write sees the
 * last commit, the read keeps its snapshot). */
static ent_txn *wtx(side *sd) { return sd->txn && !sd->txn_write && chance(50) ? NULL : sd->txn; }

static const ent_type *T(side *sd, int t)
{
    char name[16];
    snprintf(name, sizeof name, "t%d", t);
    return ent_store_type(sd->s, name);
}

/* A random entity of type t (key set with probability pk), from the rng. */
static ent_entity *rand_entity(side *sd, int t, int pk, int all)
{
    ent_entity *e = NULL;
    if (ent_entity_new(&e, T(sd, t))) return NULL;
    buf b = {0};
    if (chance((unsigned)pk)) {
        breset(&b);
        key_json(&b, t);
        ent_key k;
        if (td[t].auto_key) k = ent_key_id(strtoull(b.p, NULL, 10));
        else {
            b.p[b.n - 1] = 0;
            k = ent_key_str(b.p + 1);
        }
        int rc = ent_entity_set_key(e, &k);
        if (rc) bprintf(&sd->out, "set_key %d\n", rc);
    }
    for (int i = 0; i < td[t].nf; i++) {
        if (!all && !chance(40)) continue;
        if (!all && chance(15)) {
            char p[16];
            snprintf(p, sizeof p, "f%d", i);
            ent_entity_unset(e, p);
            continue;
        }
        if (all && chance(20)) continue;
        breset(&b);
        value_json(&b, &td[t].f[i]);
        char p[16];
        snprintf(p, sizeof p, "f%d", i);
        int rc = ent_entity_set_json(e, p, b.p);
        if (rc) bprintf(&sd->out, "set %s=%s -> %d %s\n", p, b.p, rc, ent_errmsg());
    }
    free(b.p);
    return e;
}
static ent_key rand_key(int t, char *sbuf)
{
    if (td[t].auto_key) {
        static const uint64_t big[] = {UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 63, (uint64_t)1 << 32};
        return ent_key_id(chance(3) ? big[rn(4)] : 1 + rn(9));
    }
    snprintf(sbuf, 16, "k%u", rn(7));
    return ent_key_str(sbuf);
}
static uint64_t rand_expect(void)
{
    switch (rn(5)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    case 3: return 3;
    default: return ENT_VERSION_ANY;
    }
}

static void drain_iter(side *sd, ent_iter *it, int more)
{
    ent_entity *e;
    int rc;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        ent_text(sd, e);
        ent_entity_free(e);
    }
    rcmsg(sd, "  next", rc);
    const char *tok = ent_iter_resume(it);
    bprintf(&sd->out, "  resume %s\n", tok ? tok : "(null)");
    if (more) bprintf(&sd->out, "  more %d\n", ent_iter_more(it));
}

/* Pages through a scan/range with a limit, resuming from the token. */
typedef int (*open_fn)(ent_iter **out, side *sd, const ent_range_opts *o, void *arg);
static void pages(side *sd, open_fn fn, void *arg, ent_range_opts o)
{
    char tok[1024] = "";
    for (int page = 0; page < 6; page++) {
        ent_iter *it = NULL;
        o.resume = page ? tok : chance(10) && sd->tok[0] ? sd->tok : NULL;
        int rc = fn(&it, sd, &o, arg);
        rcmsg(sd, " page", rc);
        if (rc) return;
        ent_entity *e;
        while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
            ent_text(sd, e);
            ent_entity_free(e);
        }
        rcmsg(sd, "  next", rc);
        int more = ent_iter_more(it);
        const char *t = ent_iter_resume(it);
        bprintf(&sd->out, "  more %d resume %s\n", more, t ? t : "(null)");
        if (t) snprintf(tok, sizeof tok, "%s", t);
        if (t) snprintf(sd->tok, sizeof sd->tok, "%s", t);
        ent_iter_free(it);
        if (more != 1 || !t) return;
    }
}
typedef struct scan_arg {
    int t;
    ent_key *start;
} scan_arg;
static int open_scan(ent_iter **out, side *sd, const ent_range_opts *o, void *arg)
{
    scan_arg *a = arg;
    return ent_scan(out, sd->s, tx(sd), T(sd, a->t), a->start, o);
}
typedef struct range_arg {
    const ent_field *f;
} range_arg;
static int open_range(ent_iter **out, side *sd, const ent_range_opts *o, void *arg)
{
    range_arg *a = arg;
    return ent_range(out, sd->s, tx(sd), a->f, o);
}

/* ent_txn_run payload: a few writes replayed from a seed. */
typedef struct run_arg {
    side *sd;
    uint64_t seed;
    int fail;
} run_arg;
static int run_fn(ent_txn *txn, void *payload)
{
    run_arg *a = payload;
    uint64_t save = rs;
    rs = a->seed;
    int rc = ENT_OK;
    if (rn(2)) rc = ent_txn_defer_unique_checks(txn); /* the writes' unique values checked at the end */
    for (int i = 0; i < 3 && rc == ENT_OK; i++) {
        int t = (int)rn((unsigned)nt);
        ent_entity *e = rand_entity(a->sd, t, 70, 1);
        rc = i == 2 && rn(2) ? ent_update(a->sd->s, txn, e, ENT_VERSION_ANY) : ent_upsert(a->sd->s, txn, e, ENT_VERSION_ANY);
        ent_entity_free(e);
    }
    rs = save;
    if (rc == ENT_OK && a->fail) rc = ENT_INVALID;
    return rc;
}

static void dump(side *sd);

/* One op on one side; the rng is reset to the same state for both sides by the caller. */
static void op(side *sd, int which)
{
    char kb[16];
    ent_entity *e = NULL;
    int rc;
    int t = (int)rn((unsigned)nt);
    const ent_type *ty = T(sd, t);
    switch (which) {
    case 0: /* create */
        e = rand_entity(sd, t, td[t].auto_key ? 20 : 95, 1);
        rc = ent_create(sd->s, wtx(sd), e);
        rcmsg(sd, "create", rc);
        ent_text(sd, e);
        break;
    case 1: { /* replace */
        e = rand_entity(sd, t, 100, 1);
        uint64_t x = rand_expect();
        rc = ent_replace(sd->s, wtx(sd), e, x);
        rcmsg(sd, "replace", rc);
        ent_text(sd, e);
        break;
    }
    case 2: { /* update */
        e = rand_entity(sd, t, 100, 0);
        uint64_t x = rand_expect();
        rc = ent_update(sd->s, wtx(sd), e, x);
        rcmsg(sd, "update", rc);
        ent_text(sd, e);
        break;
    }
    case 3: { /* upsert */
        e = rand_entity(sd, t, 80, 1);
        uint64_t x = rand_expect();
        rc = ent_upsert(sd->s, wtx(sd), e, x);
        rcmsg(sd, "upsert", rc);
        ent_text(sd, e);
        break;
    }
    case 4: { /* get, patch, update */
        ent_key k = rand_key(t, kb);
        rc = ent_get(&e, sd->s, tx(sd), ty, &k);
        rcmsg(sd, "get", rc);
        if (rc) break;
        ent_text(sd, e);
        buf b = {0};
        int fi = (int)rn((unsigned)td[t].nf);
        bprintf(&b, "{\"f%d\":", fi);
        if (chance(30)) bprintf(&b, "null");
        else value_json(&b, &td[t].f[fi]);
        bprintf(&b, "}");
        rc = ent_entity_patch_json(e, b.p, b.n);
        bprintf(&sd->out, "patch %s", b.p);
        rcmsg(sd, "", rc);
        free(b.p);
        rc = ent_update(sd->s, wtx(sd), e, chance(70) ? ent_entity_version(e) : rand_expect());
        rcmsg(sd, "update", rc);
        ent_text(sd, e);
        break;
    }
    case 5: { /* delete */
        ent_key k = rand_key(t, kb);
        rc = ent_delete(sd->s, wtx(sd), ty, &k, rand_expect());
        rcmsg(sd, "delete", rc);
        break;
    }
    case 6: { /* restore */
        e = rand_entity(sd, t, 90, 1);
        uint64_t v = 1 + rn(5);
        if (chance(3)) v = UINT64_MAX - 1;
        rcmsg(sd, "set_version", ent_entity_set_version(e, v));
        rc = ent_restore(sd->s, wtx(sd), e);
        rcmsg(sd, "restore", rc);
        ent_text(sd, e);
        break;
    }
    case 7: { /* get / exists */
        ent_key k = rand_key(t, kb);
        rc = ent_get(&e, sd->s, tx(sd), ty, &k);
        rcmsg(sd, "get", rc);
        if (!rc) ent_text(sd, e);
        rcmsg(sd, "exists", ent_exists(sd->s, tx(sd), ty, &k));
        break;
    }
    case 8: { /* find / find_unique / range */
        int fi = (int)rn((unsigned)td[t].nf);
        const ent_field *f = ent_type_field_at(ty, (size_t)fi);
        buf b = {0}, b2 = {0};
        lookup_text(&b, &td[t].f[fi]);
        if (!b.p) bprintf(&b, "%s", "");
        ent_value v, v2;
        char vb[ENT_VALUE_PARSE_BUF_SIZE], vb2[ENT_VALUE_PARSE_BUF_SIZE];
        rc = ent_value_parse(&v, vb, sizeof vb, f, b.p);
        bprintf(&sd->out, "parse f%d '%s'", fi, b.p);
        rcmsg(sd, "", rc);
        if (rc) {
            free(b.p);
            break;
        }
        switch (rn(3)) {
        case 0: {
            ent_iter *it = NULL;
            rc = ent_find(&it, sd->s, tx(sd), f, &v);
            rcmsg(sd, "find", rc);
            if (!rc) drain_iter(sd, it, 1);
            ent_iter_free(it);
            break;
        }
        case 1:
            rc = ent_find_unique(&e, sd->s, tx(sd), f, &v);
            rcmsg(sd, "find_unique", rc);
            if (!rc) ent_text(sd, e);
            break;
        default: {
            ent_range_opts o = ENT_RANGE_OPTS_INIT;
            lookup_text(&b2, &td[t].f[fi]);
            if (!b2.p) bprintf(&b2, "%s", "");
            if (ent_value_parse(&v2, vb2, sizeof vb2, f, b2.p)) break;
            if (chance(60)) o.from = &v;
            if (chance(40)) o.to = &v2;
            if (chance(40)) o.flags = ENT_ITER_REVERSE;
            o.limit = rn(4);
            bprintf(&sd->out, "range f%d %s..%s flags %u limit %llu\n", fi, o.from ? b.p : "-", o.to ? b2.p : "-",
                    o.flags, (unsigned long long)o.limit);
            range_arg a = {f};
            pages(sd, open_range, &a, o);
        }
        }
        free(b.p);
        free(b2.p);
        break;
    }
    case 9: { /* scan */
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        ent_key k = rand_key(t, kb);
        scan_arg a = {t, chance(40) ? &k : NULL};
        if (chance(40)) o.flags = ENT_ITER_REVERSE;
        o.limit = rn(4);
        bprintf(&sd->out, "scan t%d start %d flags %u limit %llu\n", t, a.start != NULL, o.flags,
                (unsigned long long)o.limit);
        pages(sd, open_scan, &a, o);
        break;
    }
    case 10: { /* transactions */
        if (sd->txn) {
            if (chance(50)) {
                rc = ent_txn_commit(sd->txn);
                rcmsg(sd, "commit", rc);
            } else {
                ent_txn_abort(sd->txn);
                bprintf(&sd->out, "abort\n");
            }
            sd->txn = NULL;
        } else {
            sd->txn_write = chance(75);
            rc = ent_txn_begin(&sd->txn, sd->s, sd->txn_write ? ENT_TXN_WRITE : ENT_TXN_READ);
            rcmsg(sd, sd->txn_write ? "begin write" : "begin read", rc);
            if (rc) sd->txn = NULL;
            else if (sd->txn_write && chance(40))
                rcmsg(sd, "defer unique checks", ent_txn_defer_unique_checks(sd->txn));
        }
        break;
    }
    case 11: { /* txn_run */
        run_arg a = {sd, rnd(), chance(30)};
        rc = ent_txn_run(sd->s, run_fn, &a);
        rcmsg(sd, "txn_run", rc);
        break;
    }
    case 12: { /* counts and log bounds */
        uint64_t n = 0, f = 0, l = 0;
        rc = ent_count(&n, sd->s, tx(sd), ty);
        bprintf(&sd->out, "count t%d %llu", t, (unsigned long long)n);
        rcmsg(sd, "", rc);
        rc = ent_log_bounds(&f, &l, sd->s, tx(sd));
        bprintf(&sd->out, "bounds %llu %llu", (unsigned long long)f, (unsigned long long)l);
        rcmsg(sd, "", rc);
        ent_event *ev = NULL;
        rc = ent_log_get(&ev, sd->s, tx(sd), rn((unsigned)l + 3));
        rcmsg(sd, "log_get", rc);
        if (!rc) ev_text(&sd->out, ev);
        ent_event_free(ev);
        break;
    }
    case 13: { /* log cursor */
        uint64_t from = rn(40);
        unsigned ops = rn(8);
        const ent_type *ft = chance(50) ? ty : NULL;
        ent_log_cursor *c = NULL;
        rc = ent_log_cursor_open(&c, sd->s, from, ft, ops);
        bprintf(&sd->out, "cursor from %llu ops %u type %d", (unsigned long long)from, ops, ft != NULL);
        rcmsg(sd, "", rc);
        if (rc) break;
        ent_event *ev;
        int n = 0;
        while (n++ < 15 && (rc = ent_log_next(&ev, c)) == ENT_OK) {
            ev_text(&sd->out, ev);
            ent_event_free(ev);
        }
        rcmsg(sd, "  log_next", rc);
        bprintf(&sd->out, "  pos %llu\n", (unsigned long long)ent_log_cursor_pos(c));
        ent_log_cursor_free(c);
        break;
    }
    case 14: { /* durable subscriptions */
        char name[16];
        snprintf(name, sizeof name, "s%u", rn(3));
        switch (rn(6)) {
        case 0: rcmsg(sd, "sub_create", ent_sub_create(sd->s, name, rn(2))); break;
        case 1: rcmsg(sd, "sub_delete", ent_sub_delete(sd->s, name)); break;
        case 2:
        case 3: {
            uint64_t seq = rn(40);
            bprintf(&sd->out, "ack %s %llu ", name, (unsigned long long)seq);
            rcmsg(sd, "", ent_sub_ack(sd->s, chance(30) ? tx(sd) : NULL, name, seq));
            break;
        }
        case 4: {
            uint64_t cp = 0;
            rc = ent_sub_checkpoint(&cp, sd->s, tx(sd), name);
            bprintf(&sd->out, "checkpoint %s %llu", name, (unsigned long long)cp);
            rcmsg(sd, "", rc);
            ent_sub_info *l = NULL;
            size_t n = 0;
            rc = ent_sub_list(&l, &n, sd->s);
            rcmsg(sd, "sub_list", rc);
            for (size_t i = 0; i < n; i++) bprintf(&sd->out, "  %s %llu\n", l[i].name, (unsigned long long)l[i].checkpoint);
            free(l);
            break;
        }
        default: {
            ent_log_cursor *c = NULL;
            rc = ent_sub_cursor(&c, sd->s, name);
            rcmsg(sd, "sub_cursor", rc);
            if (rc) break;
            ent_event *ev;
            int n = 0;
            while (n++ < 5 && (rc = ent_log_next(&ev, c)) == ENT_OK) {
                ev_text(&sd->out, ev);
                ent_event_free(ev);
            }
            rcmsg(sd, "  log_next", rc);
            ent_log_cursor_free(c);
        }
        }
        break;
    }
    case 15: { /* truncate */
        uint64_t below = rn(30);
        int force = chance(30);
        bprintf(&sd->out, "truncate %llu force %d", (unsigned long long)below, force);
        rcmsg(sd, "", ent_log_truncate(sd->s, below, force));
        break;
    }
    case 16: /* the whole store */
        dump(sd);
        break;
    case 17: /* a long-lived iterator */
        if (!sd->it) {
            ent_range_opts o = ENT_RANGE_OPTS_INIT;
            if (chance(40)) o.flags = ENT_ITER_REVERSE;
            int fi = (int)rn((unsigned)td[t].nf);
            const ent_field *f = ent_type_field_at(ty, (size_t)fi);
            ent_txn *it_txn;
            if (chance(50)) {
                it_txn = tx(sd);
                rc = ent_range(&sd->it, sd->s, it_txn, f, &o);
                bprintf(&sd->out, "iter range f%d flags %u in %s", fi, o.flags, it_txn ? "txn" : "own snapshot");
            } else {
                it_txn = tx(sd);
                rc = ent_scan(&sd->it, sd->s, it_txn, ty, NULL, &o);
                bprintf(&sd->out, "iter scan t%d flags %u in %s", t, o.flags, it_txn ? "txn" : "own snapshot");
            }
            rcmsg(sd, "", rc);
            if (rc) sd->it = NULL;
        } else if (chance(25)) {
            ent_iter_free(sd->it);
            sd->it = NULL;
            bprintf(&sd->out, "iter free\n");
        } else {
            unsigned n = 1 + rn(3);
            for (unsigned i = 0; i < n; i++) {
                rc = ent_iter_next(&e, sd->it);
                rcmsg(sd, "iter next", rc);
                if (!rc) ent_text(sd, e);
                ent_entity_free(e);
                e = NULL;
            }
            bprintf(&sd->out, "iter more %d\n", ent_iter_more(sd->it));
            const char *tk = ent_iter_resume(sd->it);
            bprintf(&sd->out, "iter resume %s\n", tk ? tk : "(null)");
        }
        break;
    case 19: /* a long-lived log cursor */
        if (!sd->cur) {
            uint64_t from = rn(20);
            rc = ent_log_cursor_open(&sd->cur, sd->s, from, NULL, chance(30) ? ENT_OP_DELETE | ENT_OP_CREATE : 0);
            bprintf(&sd->out, "cur open %llu", (unsigned long long)from);
            rcmsg(sd, "", rc);
            if (rc) sd->cur = NULL;
        } else if (chance(10)) {
            ent_log_cursor_free(sd->cur);
            sd->cur = NULL;
        } else {
            ent_event *ev;
            unsigned n = 1 + rn(4);
            for (unsigned i = 0; i < n; i++) {
                rc = ent_log_next(&ev, sd->cur);
                rcmsg(sd, "cur next", rc);
                if (!rc) ev_text(&sd->out, ev);
                ent_event_free(ev);
            }
            bprintf(&sd->out, "cur pos %llu\n", (unsigned long long)ent_log_cursor_pos(sd->cur));
        }
        break;
    case 18: { /* log wait, no waiting */
        uint64_t last = 0;
        uint64_t after = rn(30);
        rc = ent_log_wait(&last, sd->s, after, 0);
        bprintf(&sd->out, "log_wait %llu -> last %llu", (unsigned long long)after, (unsigned long long)last);
        rcmsg(sd, "", rc);
        break;
    }
    }
    ent_entity_free(e);
}

static void dump(side *sd)
{
    for (int t = 0; t < nt; t++) {
        ent_iter *it = NULL;
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        int rc = ent_scan(&it, sd->s, tx(sd), T(sd, t), NULL, &o);
        rcmsg(sd, "dump scan", rc);
        if (!rc) drain_iter(sd, it, 0);
        ent_iter_free(it);
        uint64_t n = 0;
        rc = ent_count(&n, sd->s, tx(sd), T(sd, t));
        bprintf(&sd->out, "count %llu %d\n", (unsigned long long)n, rc);
    }
    uint64_t f = 0, l = 0;
    ent_log_bounds(&f, &l, sd->s, tx(sd));
    bprintf(&sd->out, "bounds %llu %llu\n", (unsigned long long)f, (unsigned long long)l);
    for (uint64_t q = f; q && q <= l; q++) {
        ent_event *ev = NULL;
        int rc = ent_log_get(&ev, sd->s, tx(sd), q);
        if (rc) rcmsg(sd, "log_get", rc);
        else ev_text(&sd->out, ev);
        ent_event_free(ev);
    }
}

/* Opens a side; a store that refuses the schema (or a subscription refused) leaves its code and
 * message in sd->out, so that the caller compares them: both backends must refuse alike. No
 * scratch directory (not the library's doing): -1 and sd->dir empty. */
static int open_side(side *sd, const char *backend, const ent_schema *sc)
{
    memset(sd, 0, sizeof *sd);
    sd->backend = backend;
    if (ent_test_mkdtemp(sd->dir, sizeof sd->dir, "diff-backends")) {
        sd->dir[0] = 0;
        return -1;
    }
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    int rc = ent_store_open(&sd->s, sd->dir, sc, &o);
    if (!rc) rc = ent_subscribe(&sd->sub, sd->s, NULL, 0, on_event, sd);
    if (rc) bprintf(&sd->out, "open: %d %s\n", rc, ent_errmsg());
    return rc;
}
static void close_side(side *sd)
{
    ent_iter_free(sd->it);
    ent_log_cursor_free(sd->cur);
    if (sd->txn) ent_txn_abort(sd->txn);
    ent_store_close(sd->s);
    if (sd->dir[0] && ent_test_rm_rf(sd->dir)) fprintf(stderr, "rm failed\n");
    free(sd->events.p);
    free(sd->out.p);
}

/* Hide what legitimately differs: the LMDB store's directory in messages. */
static void scrub(buf *b, const char *dir)
{
    size_t dl = strlen(dir);
    char *p;
    while (b->p && (p = strstr(b->p, dir))) {
        memcpy(p, "<DIR>", 5);
        memmove(p + 5, p + dl, strlen(p + dl) + 1);
        b->n -= dl - 5;
    }
}

static void on_problem(const char *line, void *payload) { printf("  %s: %s\n", (const char *)payload, line); }

static long long ops_total;
static int verbose;

static int run_seed(uint64_t seed, int nops)
{
    rs = seed * 0x9E3779B97F4A7C15ull + 1;
    buf sb = {0};
    gen_schema(&sb);
    ent_schema *sc = NULL;
    int rc = ent_schema_load_json(&sc, sb.p, sb.n, "diff");
    if (rc) { /* a schema the generator got wrong (e.g. a default out of range): next seed */
        if (verbose) fprintf(stderr, "seed %llu: schema refused: %s\n", (unsigned long long)seed, ent_errmsg());
        free(sb.p);
        return 0;
    }
    side m, l;
    int om = open_side(&m, "memory", sc), ol = open_side(&l, "lmdb", sc);
    if (om || ol) {
        /* A schema the generator made that a store refuses (e.g. an indexed field's default over
         * the key limit, which both backends share): fine if both refuse it alike; a backend
         * that opens where the other refuses, or refuses otherwise, is a difference. */
        int bad = !m.dir[0] || !l.dir[0] || om != ol;
        if (!bad) {
            scrub(&m.out, m.dir);
            scrub(&l.out, l.dir);
            bad = strcmp(m.out.p, l.out.p) != 0;
        }
        if (bad)
            printf("OPEN seed %llu\nschema %s\n--- memory\n%s--- lmdb\n%s", (unsigned long long)seed, sb.p,
                   m.out.p ? m.out.p : "opened\n", l.out.p ? l.out.p : "opened\n");
        else if (verbose)
            fprintf(stderr, "seed %llu: both refuse the schema: %s", (unsigned long long)seed, m.out.p);
        close_side(&m);
        close_side(&l);
        ent_schema_free(sc);
        free(sb.p);
        return bad;
    }
    int bad = 0;
    for (int i = 0; i <= nops && !bad; i++) {
        int which = i == nops ? 16 : (int)rn(20);
        uint64_t st = rnd();
        breset(&m.out);
        breset(&l.out);
        rs = st;
        op(&m, which);
        rs = st;
        op(&l, which);
        rs = st ^ 0x5555;
        bprintf(&m.out, "events:\n%s", m.events.p ? m.events.p : "");
        bprintf(&l.out, "events:\n%s", l.events.p ? l.events.p : "");
        breset(&m.events);
        breset(&l.events);
        scrub(&l.out, l.dir);
        scrub(&m.out, m.dir);
        ops_total++;
        if (strcmp(m.out.p, l.out.p) != 0) {
            printf("DIFF seed %llu op %d (kind %d)\nschema %s\n--- memory\n%s--- lmdb\n%s", (unsigned long long)seed, i,
                   which, sb.p, m.out.p, l.out.p);
            bad = 1;
        } else if (verbose > 1) {
            printf("op %d\n%s", i, m.out.p);
        }
    }
    if (!bad) {
        uint64_t pm = 0, pl = 0;
        ent_iter_free(m.it), m.it = NULL;
        ent_iter_free(l.it), l.it = NULL;
        if (m.txn) ent_txn_abort(m.txn), m.txn = NULL;
        if (l.txn) ent_txn_abort(l.txn), l.txn = NULL;
        ent_store_verify(&pm, m.s, on_problem, "memory");
        ent_store_verify(&pl, l.s, on_problem, "lmdb");
        if (pm || pl) {
            printf("VERIFY seed %llu: memory %llu lmdb %llu problems\n", (unsigned long long)seed,
                   (unsigned long long)pm, (unsigned long long)pl);
            bad = 1;
        }
    }
    close_side(&m);
    close_side(&l);
    ent_schema_free(sc);
    free(sb.p);
    return bad;
}

int main(int argc, char **argv)
{
    uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
    int nops = argc > 3 ? atoi(argv[3]) : 200;
    verbose = getenv("PDIFF_VERBOSE") ? atoi(getenv("PDIFF_VERBOSE")) : 0;
    int fails = 0;
    for (uint64_t s = first; s < first + n; s++) {
        if (run_seed(s, nops)) {
            fails++;
            if (!getenv("PDIFF_KEEP_GOING")) break;
        }
    }
    printf("seeds %llu..%llu ops %lld failures %d\n", (unsigned long long)first,
           (unsigned long long)(first + n - 1), ops_total, fails);
    return fails != 0;
}
