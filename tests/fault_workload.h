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

typedef struct fw_ctx {
    ent_store *s;
    const char *backend; /* "lmdb", "memory" (or a wrapping backend's name) */
    char dir[256];       /* the store (LMDB) */
    char copy_dir[300];  /* the copy step's destination */
    ent_schema *v1, *v2;
    ent_store_opts opts;
    int lmdb;            /* on-disk: evolution by reopening, copy */
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
    ent_store_close(w->s);
    w->s = NULL;
    return ent_store_open(&w->s, w->dir, w->v2, &w->opts);
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
    {"subscription", fw_s_sub, 0},
    {"acknowledge", fw_s_ack, 0},
    {"reads", fw_s_reads, 0},
    {"truncate the log", fw_s_truncate, 0},
    {"update by patch", fw_s_patch, 0},
    {"evolve the schema (index build)", fw_s_evolve, 1},
    {"create with the new field", fw_s_create_v2, 1},
    {"copy", fw_s_copy, 1},
    {"verify", fw_s_verify, 0},
};
#define FW_NSTEPS (sizeof fw_steps / sizeof fw_steps[0])

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

/* A new directory for the stores of one loop (caller frees): in /dev/shm when there is one, as the
 * loop opens a fresh store thousands of times and the faults, not the disk, are under test. */
static char *fw_tmpdir(const char *what)
{
    char *p = malloc(256);
    if (!p) abort();
    snprintf(p, 256, "%s/ent-%s-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", what);
    if (!mkdtemp(p)) abort();
    return p;
}

static void fw_rmrf(const char *dir)
{
    /* every file the backend made (data, lock, notify, writer lock), then the directory */
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[600];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* A fresh store for one run (the schemas are loaded once by the caller into w->v1/v2). */
static int fw_open_fresh(fw_ctx *w)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    fw_rmrf(w->copy_dir);
    fw_rmrf(w->dir);
    if (w->lmdb) mkdir(w->dir, 0700);
    o.backend = w->backend;
    o.durability = ENT_NONE; /* faults, not fsync, are under test */
    w->opts = o;
    return ent_store_open(&w->s, w->dir, w->v1, &w->opts);
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
