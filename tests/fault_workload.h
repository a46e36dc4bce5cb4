/* The scripted workload of the fault-injection suites (test_fault_alloc.c, test_fault_backend.c):
 * creates with unique and ref checks, updates, deletes, transactions (committed and aborted),
 * durable subscription acks, log truncation, and on LMDB a schema evolution that builds an index
 * on reopen and a copy; and the state snapshot that the suites compare.
 *
 * A run executes the steps in order and stops at the first step whose code differs from the
 * reference run's (an injected fault surfaced). Each step is one unit of work: it commits on its
 * own or aborts everything it began, so the store after a failed step must equal the snapshot
 * before it (or after it, when the failure came once the commit was durable: all or nothing). */
#ifndef ENT_FAULT_WORKLOAD_H
#define ENT_FAULT_WORKLOAD_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entity/entity.h"
#include "test_tmp.h"

static const char fw_schema_v1[] =
    "{\"schema\":\"fault\",\"version\":1,\"types\":{"
    "\"acct\":{\"key\":\"auto\",\"fields\":{"
    "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"name\":{\"id\":2,\"type\":\"string\"},"
    "\"score\":{\"id\":3,\"type\":\"int\",\"indexed\":true}}},"
    "\"item\":{\"key\":\"string\",\"fields\":{"
    "\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"acct\",\"required\":true},"
    "\"qty\":{\"id\":2,\"type\":\"uint\",\"default\":1},"
    "\"tags\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}";

/* v2: a new indexed field with a default (its index is built over the stored entities on open). */
static const char fw_schema_v2[] =
    "{\"schema\":\"fault\",\"version\":2,\"types\":{"
    "\"acct\":{\"key\":\"auto\",\"fields\":{"
    "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"name\":{\"id\":2,\"type\":\"string\"},"
    "\"score\":{\"id\":3,\"type\":\"int\",\"indexed\":true},"
    "\"tier\":{\"id\":4,\"type\":\"string\",\"default\":\"basic\",\"indexed\":true}}},"
    "\"item\":{\"key\":\"string\",\"fields\":{"
    "\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"acct\",\"required\":true},"
    "\"qty\":{\"id\":2,\"type\":\"uint\",\"default\":1},"
    "\"tags\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}";

/* What a subscriber or a log follower saw of one event (fixed storage: the recording callback
 * must not allocate, or the allocation loop would fail the test's own bookkeeping). */
typedef struct fw_seen_ev {
    uint64_t seq, txn, version, key_id;
    int op;
    char type[16], key_str[16];
} fw_seen_ev;

#define FW_MAX_SEEN 128
typedef struct fw_seen {
    fw_seen_ev ev[FW_MAX_SEEN];
    size_t n;
    int overflow;
} fw_seen;

typedef struct fw_ctx {
    ent_store *s;
    const char *backend; /* "lmdb", "memory" (or a wrapping backend's name) */
    char dir[ENT_TEST_PATH_MAX];      /* the store (LMDB) */
    char copy_dir[ENT_TEST_PATH_MAX]; /* the copy step's destination */
    ent_schema *v1, *v2;
    ent_store_opts opts;
    int lmdb;            /* on-disk: evolution by reopening, copy */
    /* In-process subscribers, registered at every open: one for every event, one for acct
     * creates and updates (a filter) that also reads the entity from its callback, and one that
     * unsubscribes itself from its callback at its third event. A log follower (a cursor from
     * seq 1 read by the follow steps and, after a run, to the end). */
    ent_subscriber *sub_all, *sub_acct, *sub_once;
    fw_seen all, acct, followed;
    int once_calls;
    int cb_bad;          /* a callback's read returned a code it must not (named in cb_bad_msg) */
    char cb_bad_msg[256];
    ent_log_cursor *follow;
} fw_ctx;

/* ---- helpers: each returns a library code --------------------------------------------------- */

static int fw_new_acct(ent_entity **out, fw_ctx *w, const char *email, int64_t score)
{
    int rc = ent_entity_new(out, ent_store_type(w->s, "acct"));
    if (!rc) rc = ent_entity_set_string(*out, "email", email);
    if (!rc) rc = ent_entity_set_string(*out, "name", email);
    if (!rc) rc = ent_entity_set_int(*out, "score", score);
    return rc;
}

static int fw_create_acct(fw_ctx *w, ent_txn *t, const char *email, int64_t score)
{
    ent_entity *e = NULL;
    int rc = fw_new_acct(&e, w, email, score);
    if (!rc) rc = ent_create(w->s, t, e);
    ent_entity_free(e);
    return rc;
}

static int fw_create_item(fw_ctx *w, ent_txn *t, const char *key, uint64_t owner, int tags)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    int rc = ent_entity_new(&e, ent_store_type(w->s, "item"));
    if (!rc) rc = ent_entity_set_key(e, &k);
    if (!rc) rc = ent_entity_set_uint(e, "owner", owner);
    for (int i = 0; !rc && i < tags; i++) {
        char p[32];
        snprintf(p, sizeof p, "tags[%d]", i);
        rc = ent_entity_array_insert(e, "tags", (size_t)i);
        if (!rc) rc = ent_entity_set_string(e, p, key);
    }
    if (!rc) rc = ent_create(w->s, t, e);
    ent_entity_free(e);
    return rc;
}

static int fw_update_score(fw_ctx *w, ent_txn *t, uint64_t id, int64_t score)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(id);
    int rc = ent_entity_new(&e, ent_store_type(w->s, "acct"));
    if (!rc) rc = ent_entity_set_key(e, &k);
    if (!rc) rc = ent_entity_set_int(e, "score", score);
    if (!rc) rc = ent_update(w->s, t, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    return rc;
}

static int fw_drain(ent_iter *it)
{
    ent_entity *e;
    int rc;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) ent_entity_free(e);
    ent_iter_free(it);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

/* ---- subscribers and the log follower ------------------------------------------------------- */

static void fw_record(fw_seen *r, const ent_event *ev)
{
    fw_seen_ev *x;
    if (r->n == FW_MAX_SEEN) {
        r->overflow = 1;
        return;
    }
    x = &r->ev[r->n++];
    memset(x, 0, sizeof *x);
    x->seq = ev->seq;
    x->txn = ev->txn;
    x->version = ev->version;
    x->op = ev->op;
    snprintf(x->type, sizeof x->type, "%s", ent_type_name(ev->type));
    if (ev->key.kind == ENT_KEY_AUTO) x->key_id = ev->key.id;
    else snprintf(x->key_str, sizeof x->key_str, "%.*s", (int)ev->key.len, ev->key.str);
}

static int fw_seen_eq(const fw_seen_ev *a, const fw_seen_ev *b)
{
    return a->seq == b->seq && a->txn == b->txn && a->version == b->version && a->op == b->op &&
           a->key_id == b->key_id && !strcmp(a->type, b->type) && !strcmp(a->key_str, b->key_str);
}

static void fw_cb_all(const ent_event *ev, void *payload) { fw_record(&((fw_ctx *)payload)->all, ev); }

/* Reads from a callback are allowed; under faults they may fail, with a code a read returns. */
static void fw_cb_acct(const ent_event *ev, void *payload)
{
    fw_ctx *w = payload;
    ent_entity *e = NULL;
    int rc;
    fw_record(&w->acct, ev);
    rc = ent_get(&e, w->s, NULL, ev->type, &ev->key);
    if (rc == ENT_OK && ent_entity_version(e) < ev->version && !w->cb_bad) {
        w->cb_bad = 1;
        snprintf(w->cb_bad_msg, sizeof w->cb_bad_msg, "callback of seq %llu reads version %llu < %llu",
                 (unsigned long long)ev->seq, (unsigned long long)ent_entity_version(e),
                 (unsigned long long)ev->version);
    }
    if (rc != ENT_OK && rc != ENT_NOTFOUND && rc != ENT_IO && rc != ENT_FULL && rc != ENT_NOMEM &&
        rc != ENT_CORRUPT && !w->cb_bad) {
        w->cb_bad = 1;
        snprintf(w->cb_bad_msg, sizeof w->cb_bad_msg, "callback of seq %llu: get returned %d (%s)",
                 (unsigned long long)ev->seq, rc, ent_errmsg());
    }
    ent_entity_free(e);
}

static void fw_cb_once(const ent_event *ev, void *payload)
{
    fw_ctx *w = payload;
    (void)ev;
    if (++w->once_calls == 3) {
        ent_unsubscribe(w->s, w->sub_once);
        w->sub_once = NULL;
    }
}

/* After an open: the subscribers (the self-unsubscribing one at the first open only). */
static int fw_subscribe(fw_ctx *w, int first)
{
    int rc = ent_subscribe(&w->sub_all, w->s, NULL, 0, fw_cb_all, w);
    if (!rc) rc = ent_subscribe(&w->sub_acct, w->s, ent_store_type(w->s, "acct"), ENT_OP_CREATE | ENT_OP_UPDATE,
                                fw_cb_acct, w);
    if (!rc && first) rc = ent_subscribe(&w->sub_once, w->s, NULL, 0, fw_cb_once, w);
    return rc;
}

/* Read the follower's cursor to the end of the log as it stands. */
static int fw_follow(fw_ctx *w)
{
    ent_event *ev;
    uint64_t last = 0;
    int rc;
    if (!w->follow) return ENT_OK;
    while ((rc = ent_log_next(&ev, w->follow)) == ENT_OK) {
        fw_record(&w->followed, ev);
        ent_event_free(ev);
    }
    if (rc != ENT_NOTFOUND) return rc;
    /* caught up: nothing after the cursor's position yet */
    rc = ent_log_wait(&last, w->s, ent_log_cursor_pos(w->follow) - 1, 0);
    return rc == ENT_TIMEOUT ? ENT_OK : rc == ENT_OK ? ENT_CONFLICT : rc;
}

/* ---- the steps ------------------------------------------------------------------------------ */

static int fw_s_create(fw_ctx *w) { return fw_create_acct(w, NULL, "a@x", 1); }
static int fw_s_create2(fw_ctx *w) { return fw_create_acct(w, NULL, "b@x", 2); }
static int fw_s_unique_taken(fw_ctx *w) { return fw_create_acct(w, NULL, "a@x", 3); } /* CONFLICT */
static int fw_s_item(fw_ctx *w) { return fw_create_item(w, NULL, "i1", 1, 2); }
static int fw_s_ref_missing(fw_ctx *w) { return fw_create_item(w, NULL, "i9", 99, 0); } /* INVALID */
static int fw_s_update(fw_ctx *w) { return fw_update_score(w, NULL, 1, 5); }

static int fw_s_txn_commit(fw_ctx *w)
{
    ent_txn *t = NULL;
    ent_entity *e = NULL;
    ent_key k = ent_key_str("i1");
    int rc = ent_txn_begin(&t, w->s, ENT_TXN_WRITE);
    if (rc) return rc;
    if (!rc) rc = fw_create_acct(w, t, "c@x", 3);
    if (!rc) rc = fw_create_item(w, t, "i2", 3, 1);
    if (!rc) rc = ent_get(&e, w->s, t, ent_store_type(w->s, "item"), &k);
    if (!rc) rc = ent_entity_set_uint(e, "qty", 7);
    if (!rc) rc = ent_replace(w->s, t, e, ENT_VERSION_ANY);
    ent_entity_free(e);
    if (rc) {
        ent_txn_abort(t);
        return rc;
    }
    return ent_txn_commit(t);
}

static int fw_s_txn_abort(fw_ctx *w)
{
    ent_txn *t = NULL;
    int rc = ent_txn_begin(&t, w->s, ENT_TXN_WRITE);
    if (rc) return rc;
    rc = fw_create_acct(w, t, "d@x", 4);
    if (!rc) rc = fw_update_score(w, t, 1, 50);
    ent_txn_abort(t);
    return rc;
}

static int fw_s_delete(fw_ctx *w)
{
    ent_key k = ent_key_id(2);
    return ent_delete(w->s, NULL, ent_store_type(w->s, "acct"), &k, ENT_VERSION_ANY);
}

static int fw_s_delete_referenced(fw_ctx *w) /* CONFLICT */
{
    ent_key k = ent_key_id(1);
    return ent_delete(w->s, NULL, ent_store_type(w->s, "acct"), &k, ENT_VERSION_ANY);
}

static int fw_s_sub(fw_ctx *w) { return ent_sub_create(w->s, "mailer", 0); }
static int fw_s_ack(fw_ctx *w) { return ent_sub_ack(w->s, NULL, "mailer", 4); }

static int fw_s_reads(fw_ctx *w)
{
    const ent_type *acct = ent_store_type(w->s, "acct");
    ent_value v = ent_value_string("c@x"), lo = ent_value_int(0);
    ent_range_opts ro = ENT_RANGE_OPTS_INIT;
    ent_entity *e = NULL;
    ent_iter *it = NULL;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    uint64_t n;
    int rc = ent_find_unique(&e, w->s, NULL, ent_type_field(acct, "email"), &v);
    ent_entity_free(e);
    ro.from = &lo;
    if (!rc && !(rc = ent_range(&it, w->s, NULL, ent_type_field(acct, "score"), &ro))) rc = fw_drain(it);
    if (!rc && !(rc = ent_scan(&it, w->s, NULL, ent_store_type(w->s, "item"), NULL, NULL))) rc = fw_drain(it);
    if (!rc) rc = ent_count(&n, w->s, NULL, acct);
    if (!rc && !(rc = ent_sub_cursor(&c, w->s, "mailer"))) {
        while ((rc = ent_log_next(&ev, c)) == ENT_OK) ent_event_free(ev);
        if (rc == ENT_NOTFOUND) rc = ENT_OK;
        ent_log_cursor_free(c);
    }
    return rc;
}

/* A consumer of the durable subscription: the events after its checkpoint, then its own write (the
 * number of events on acct 1's score) and the ack of the last one in one transaction: exactly once. */
static int fw_s_consume(fw_ctx *w)
{
    ent_log_cursor *c = NULL;
    ent_event *ev;
    ent_txn *t = NULL;
    uint64_t last = 0;
    int64_t n = 0;
    int rc = ent_sub_cursor(&c, w->s, "mailer");
    if (rc) return rc;
    while ((rc = ent_log_next(&ev, c)) == ENT_OK) {
        last = ev->seq;
        n++;
        ent_event_free(ev);
    }
    ent_log_cursor_free(c);
    if (rc != ENT_NOTFOUND) return rc;
    if ((rc = ent_txn_begin(&t, w->s, ENT_TXN_WRITE))) return rc;
    rc = fw_update_score(w, t, 1, n);
    if (!rc) rc = ent_sub_ack(w->s, t, "mailer", last);
    if (rc) {
        ent_txn_abort(t);
        return rc;
    }
    return ent_txn_commit(t);
}

static int fw_s_follow(fw_ctx *w) { return fw_follow(w); }

static int fw_s_truncate(fw_ctx *w) { return ent_log_truncate(w->s, 4, 0); }

static int fw_s_patch(fw_ctx *w)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(3);
    static const char patch[] = "{\"name\":\"carol\",\"score\":null}";
    int rc = ent_get(&e, w->s, NULL, ent_store_type(w->s, "acct"), &k);
    if (!rc) rc = ent_entity_patch_json(e, patch, sizeof patch - 1);
    if (!rc) rc = ent_update(w->s, NULL, e, ent_entity_version(e));
    ent_entity_free(e);
    return rc;
}

/* LMDB: close, then open with schema v2: an evolution whose new index is built on open. */
static int fw_s_evolve(fw_ctx *w)
{
    uint64_t pos = w->follow ? ent_log_cursor_pos(w->follow) : 0;
    int rc;
    ent_log_cursor_free(w->follow);
    w->follow = NULL;
    ent_store_close(w->s); /* frees the subscribers */
    w->s = NULL;
    w->sub_all = w->sub_acct = w->sub_once = NULL;
    if ((rc = ent_store_open(&w->s, w->dir, w->v2, &w->opts))) return rc;
    if ((rc = fw_subscribe(w, 0))) return rc;
    return pos ? ent_log_cursor_open(&w->follow, w->s, pos, NULL, 0) : ENT_OK;
}

static int fw_s_create_v2(fw_ctx *w)
{
    ent_entity *e = NULL;
    int rc = fw_new_acct(&e, w, "e@x", 9);
    if (!rc) rc = ent_entity_set_string(e, "tier", "gold");
    if (!rc) rc = ent_create(w->s, NULL, e);
    ent_entity_free(e);
    return rc;
}

static int fw_s_copy(fw_ctx *w) { return ent_store_copy(w->s, w->copy_dir, 0); }

/* The last problem verify reported (a fault met by verify's reads is a problem it names). */
static char fw_last_problem[1024];

static void fw_problem(const char *line, void *payload)
{
    (void)payload;
    snprintf(fw_last_problem, sizeof fw_last_problem, "%s", line);
}

static int fw_s_verify(fw_ctx *w)
{
    uint64_t problems = 0;
    fw_last_problem[0] = '\0';
    return ent_store_verify(&problems, w->s, fw_problem, NULL);
}

typedef struct fw_step {
    const char *name;
    int (*fn)(fw_ctx *w);
    int lmdb_only;
} fw_step;

static const fw_step fw_steps[] = {
    {"create", fw_s_create, 0},
    {"create second", fw_s_create2, 0},
    {"create with a taken unique value", fw_s_unique_taken, 0},
    {"create with a ref", fw_s_item, 0},
    {"create with a missing ref", fw_s_ref_missing, 0},
    {"update", fw_s_update, 0},
    {"transaction committed", fw_s_txn_commit, 0},
    {"transaction aborted", fw_s_txn_abort, 0},
    {"delete", fw_s_delete, 0},
    {"delete a referenced entity", fw_s_delete_referenced, 0},
    {"follow the log", fw_s_follow, 0},
    {"subscription", fw_s_sub, 0},
    {"acknowledge", fw_s_ack, 0},
    {"consume and acknowledge in one transaction", fw_s_consume, 0},
    {"reads", fw_s_reads, 0},
    {"truncate the log", fw_s_truncate, 0},
    {"follow the log after truncation", fw_s_follow, 0},
    {"update by patch", fw_s_patch, 0},
    {"evolve the schema (index build)", fw_s_evolve, 1},
    {"create with the new field", fw_s_create_v2, 1},
    {"copy", fw_s_copy, 1},
    {"follow the log to the end", fw_s_follow, 0},
    {"verify", fw_s_verify, 0},
};
#define FW_NSTEPS (sizeof fw_steps / sizeof fw_steps[0])

/* The error kinds the real backends return, injected through the fault backend; sticky: that call
 * and every later one fail (a disk gone away). */
typedef struct fw_kind {
    int rc;
    int sticky;
    const char *name;
} fw_kind;

static const fw_kind fw_kinds[] = {
    {ENT_IO, 0, "I/O error"},   {ENT_FULL, 0, "full"},           {ENT_NOMEM, 0, "out of memory"},
    {ENT_CORRUPT, 0, "corrupt"}, {ENT_IO, 1, "I/O error, sticky"},
};
#define FW_NKINDS (sizeof fw_kinds / sizeof fw_kinds[0])

/* ---- snapshot: the store's whole observable state as text ------------------------------------ */

typedef struct fw_text {
    char *p;
    size_t n, cap;
} fw_text;

static void fw_add(fw_text *t, const char *s)
{
    size_t l = strlen(s);
    if (t->n + l + 2 > t->cap) {
        t->cap = (t->n + l + 2) * 2;
        if (!(t->p = realloc(t->p, t->cap))) abort();
    }
    memcpy(t->p + t->n, s, l);
    t->n += l;
    t->p[t->n++] = '\n';
    t->p[t->n] = '\0';
}

/* Entities of every type, counts, the log (events without their wall-clock time), the bounds,
 * subscriptions and their checkpoints. Returns a malloc'd string, or NULL when a read fails
 * (the message is then the library's). */
static char *fw_snapshot(ent_store *s)
{
    const ent_schema *sc = ent_store_schema(s);
    fw_text t = {NULL, 0, 0};
    uint64_t first = 0, last = 0;
    ent_sub_info *subs = NULL;
    size_t nsubs = 0;
    char line[256];
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *ty = ent_schema_type_at(sc, i);
        ent_iter *it = NULL;
        ent_entity *e;
        uint64_t n = 0;
        int rc;
        if (ent_scan(&it, s, NULL, ty, NULL, NULL) != ENT_OK) goto fail;
        while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
            char *j = NULL;
            if (ent_entity_to_json(&j, e, ENT_JSON_ENTITY) != ENT_OK) abort();
            fw_add(&t, j);
            free(j);
            ent_entity_free(e);
        }
        ent_iter_free(it);
        if (rc != ENT_NOTFOUND || ent_count(&n, s, NULL, ty) != ENT_OK) goto fail;
        snprintf(line, sizeof line, "count %s %llu", ent_type_name(ty), (unsigned long long)n);
        fw_add(&t, line);
    }
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK) goto fail;
    snprintf(line, sizeof line, "log %llu..%llu", (unsigned long long)first, (unsigned long long)last);
    fw_add(&t, line);
    for (uint64_t q = first; q && q <= last; q++) {
        ent_event *ev = NULL;
        char *j = NULL;
        if (ent_log_get(&ev, s, NULL, q) != ENT_OK) goto fail;
        ev->ts = 0;
        if (ent_event_to_json(&j, ev, 0) != ENT_OK) abort();
        fw_add(&t, j);
        free(j);
        ent_event_free(ev);
    }
    if (ent_sub_list(&subs, &nsubs, s) != ENT_OK) goto fail;
    for (size_t i = 0; i < nsubs; i++) {
        snprintf(line, sizeof line, "sub %s %llu", subs[i].name, (unsigned long long)subs[i].checkpoint);
        fw_add(&t, line);
    }
    free(subs);
    return t.p ? t.p : calloc(1, 1);
fail:
    free(t.p);
    return NULL;
}

/* ---- setting up and running ------------------------------------------------------------------- */

/* A new directory for the stores of one loop (caller frees): ent_test_mkdtemp_fast(), in /dev/shm
 * when TMPDIR is not set, as the loop opens a fresh store thousands of times and the faults, not
 * the disk, are under test. ENT_TEST_PATH_MAX bytes. */
static char *fw_tmpdir(const char *what)
{
    char *p = malloc(ENT_TEST_PATH_MAX);
    if (!p || ent_test_mkdtemp_fast(p, ENT_TEST_PATH_MAX, what)) abort();
    return p;
}

static void fw_rmrf(const char *dir)
{
    /* every file the backend made (data, lock, notify, writer lock), then the directory */
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[ENT_TEST_PATH_MAX + 256];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (ent_test_fmt(p, sizeof p, "%s/%s", dir, de->d_name)) abort(); /* cannot: room for both */
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* A fresh store for one run (the schemas are loaded once by the caller into w->v1/v2). */
static int fw_open_fresh(fw_ctx *w)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    fw_rmrf(w->copy_dir);
    fw_rmrf(w->dir);
    if (w->lmdb) mkdir(w->dir, 0700);
    o.backend = w->backend;
    o.durability = ENT_NONE; /* faults, not fsync, are under test */
    w->opts = o;
    memset(&w->all, 0, sizeof w->all);
    memset(&w->acct, 0, sizeof w->acct);
    memset(&w->followed, 0, sizeof w->followed);
    w->once_calls = w->cb_bad = 0;
    w->follow = NULL;
    w->sub_all = w->sub_acct = w->sub_once = NULL;
    if ((rc = ent_store_open(&w->s, w->dir, w->v1, &w->opts))) return rc;
    if ((rc = fw_subscribe(w, 1))) return rc;
    return ent_log_cursor_open(&w->follow, w->s, 1, NULL, 0);
}

/* Close the run's store (the follower's cursor first; the subscribers go with the store). */
static void fw_close(fw_ctx *w)
{
    ent_log_cursor_free(w->follow);
    w->follow = NULL;
    ent_store_close(w->s);
    w->s = NULL;
    w->sub_all = w->sub_acct = w->sub_once = NULL;
}

static uint64_t fw_log_last(ent_store *s)
{
    uint64_t first = 0, last = 0;
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK) abort();
    return last;
}

/* The reference run (no faults): every event, and the log's last seq before each step. */
typedef struct fw_ref {
    fw_seen all;
    uint64_t last[FW_NSTEPS + 1]; /* [i]: before step i; [FW_NSTEPS]: at the end */
} fw_ref;

#define FW_BAD(...)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "\n  %s: ", label);                                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                      \
        bad++;                                                                                     \
    } while (0)

/* After a run whose first failing step is f (FW_NSTEPS: none), faults disarmed, the run's store
 * still open: what the subscribers, the follower and the durable subscription saw.
 * - The all-events subscriber saw seq 1, 2, ... each once, in order, each the very event the log
 *   holds under it (as the reference run has it), none the store does not hold (a failed commit
 *   delivers nothing); and everything committed before step f (a sticky fault: before step f - 1,
 *   whose delivery may have been held back by the fault and the store then closed).
 * - The filtered subscriber saw exactly the acct creates and updates among those; the one that
 *   unsubscribed itself got three events and no more; no callback read something it must not.
 * - The follower, read on to the end now, saw every event in the log once, in order (only what a
 *   truncation removed before it got there is missing), each as the log holds it.
 * - The durable subscription replays from its checkpoint every event after it, in order.
 * Returns the number of problems (each printed). */
static inline int fw_check_events(fw_ctx *w, const fw_ref *ref, size_t f, int sticky, const char *label)
{
    uint64_t first = 0, last = 0, floor, prev = 0, cp = 0;
    size_t j = 0;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    int bad = 0, rc;
    if (ent_log_bounds(&first, &last, w->s, NULL) != ENT_OK) {
        FW_BAD("log bounds: %s", ent_errmsg());
        return bad;
    }
    if (w->all.overflow || w->followed.overflow) FW_BAD("more than %d events recorded", FW_MAX_SEEN);
    for (size_t i = 0; i < w->all.n; i++) {
        const fw_seen_ev *x = &w->all.ev[i];
        if (x->seq != i + 1 || x->seq > last || x->seq > ref->all.n || !fw_seen_eq(x, &ref->all.ev[x->seq - 1])) {
            FW_BAD("subscriber's event %zu is seq %llu (log ends at %llu): not the next committed event", i,
                   (unsigned long long)x->seq, (unsigned long long)last);
            break;
        }
    }
    {
        size_t p = f; /* sticky: the step before f that ran may have had its delivery held back */
        if (sticky)
            while (p > 0 && (--p, fw_steps[p].lmdb_only && !w->lmdb)) {}
        floor = ref->last[p];
    }
    if (w->all.n < floor || (!sticky && f == FW_NSTEPS && w->all.n != last))
        FW_BAD("subscriber saw %zu events; the log held %llu before the failing step %zu", w->all.n,
               (unsigned long long)floor, f);
    for (size_t i = 0; i < w->all.n; i++) {
        const fw_seen_ev *x = &w->all.ev[i];
        if (strcmp(x->type, "acct") || x->op == ENT_OP_DELETE) continue;
        if (j >= w->acct.n || !fw_seen_eq(x, &w->acct.ev[j])) {
            FW_BAD("filtered subscriber: event %zu is not seq %llu", j, (unsigned long long)x->seq);
            break;
        }
        j++;
    }
    if (j != w->acct.n) FW_BAD("filtered subscriber saw %zu events, %zu match its filter", w->acct.n, j);
    if (w->once_calls != (int)(w->all.n < 3 ? w->all.n : 3))
        FW_BAD("self-unsubscribing subscriber called %d times", w->once_calls);
    if (w->cb_bad) FW_BAD("%s", w->cb_bad_msg);
    /* the follower, on to the end */
    if (w->follow) {
        while ((rc = ent_log_next(&ev, w->follow)) == ENT_OK) {
            fw_record(&w->followed, ev);
            ent_event_free(ev);
        }
        if (rc != ENT_NOTFOUND) FW_BAD("follower: %s", ent_errmsg());
        for (size_t i = 0; i < w->followed.n; i++) {
            const fw_seen_ev *x = &w->followed.ev[i];
            int skipped_ok = x->seq == prev + 1 || x->seq <= first; /* a gap only where truncated */
            if (!skipped_ok || x->seq > ref->all.n || !fw_seen_eq(x, &ref->all.ev[x->seq - 1])) {
                FW_BAD("follower's event %zu is seq %llu after %llu (log %llu..%llu)", i, (unsigned long long)x->seq,
                       (unsigned long long)prev, (unsigned long long)first, (unsigned long long)last);
                break;
            }
            prev = x->seq;
        }
        if (prev != last) FW_BAD("follower ends at %llu, the log at %llu", (unsigned long long)prev, (unsigned long long)last);
    }
    /* the durable subscription replays from its checkpoint */
    if (ent_sub_checkpoint(&cp, w->s, NULL, "mailer") == ENT_OK) {
        prev = cp;
        if ((rc = ent_sub_cursor(&c, w->s, "mailer"))) FW_BAD("sub cursor: %s", ent_errmsg());
        while (c && (rc = ent_log_next(&ev, c)) == ENT_OK) {
            if (ev->seq != prev + 1) FW_BAD("replay of mailer from %llu: seq %llu after %llu", (unsigned long long)cp,
                                            (unsigned long long)ev->seq, (unsigned long long)prev);
            prev = ev->seq;
            ent_event_free(ev);
        }
        if (c && rc != ENT_NOTFOUND) FW_BAD("replay of mailer: %s", ent_errmsg());
        ent_log_cursor_free(c);
        if (prev != last) FW_BAD("replay of mailer ends at %llu, the log at %llu", (unsigned long long)prev,
                                 (unsigned long long)last);
    }
    return bad;
}

/* Run the steps; fill rcs[i] with each step's code. Stops after the first step whose code differs
 * from want (NULL: none). Returns the index of that step, or FW_NSTEPS when none differed. */
static size_t fw_run(fw_ctx *w, int *rcs, const int *want)
{
    for (size_t i = 0; i < FW_NSTEPS; i++) {
        if (fw_steps[i].lmdb_only && !w->lmdb) {
            rcs[i] = ENT_OK;
            continue;
        }
        rcs[i] = fw_steps[i].fn(w);
        if (want && rcs[i] != want[i]) return i;
    }
    return FW_NSTEPS;
}

#endif
