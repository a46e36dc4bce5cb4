/* Store: open (create, or read the stored schema and evolve it: store_evolve.c), close, the
 * store-wide calls (info, copy, progress). Uses store_meta.c, store_layout.c, store_evolve.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error_int.h"
#include "fork.h"
#include "keys.h"
#include "store_int.h"

/* A bare transaction on the store during open, before any layout exists. */
static int raw_begin(ent_txn *t, ent_store *s, int write)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    t->write = write;
    return ent__bk_begin(t, write);
}

static void raw_end(ent_txn *t)
{
    ent__buf_free(&t->k1);
    ent__buf_free(&t->k2);
    ent__buf_free(&t->v1);
    ent__buf_free(&t->ev);
    free(t->tc);
}

/* Create the meta of a new store. */
static int store_init(ent_txn *t, const ent_schema *sc, int durability)
{
    uint8_t fmt[4] = {0, 0, 0, ENT_FORMAT_VERSION}, id[16];
    int rc;
    ent__random_uuid(id);
    if ((rc = ent__meta_put(t, "format", fmt, sizeof fmt))) return rc;
    if ((rc = ent__meta_put(t, "store_id", id, sizeof id))) return rc;
    if ((rc = ent__durability_put(t, durability))) return rc;
    return ent__schema_store(t, sc, 1);
}

/* The backend, the layouts and the handle itself (open's failure path and close). */
static void store_free(ent_store *s)
{
    /* In a child after fork() (close there only frees memory) a condition variable that one of
     * the parent's threads waited on at the fork (a commit's delivery turn, a leader awaiting
     * company) still counts that waiter, and glibc's pthread_cond_destroy() waits for it to
     * leave: the child's close hung for good. The child's copies are only freed. */
    int in_child = s->bk.be && s->bk.fork_gen != ent__fork_gen();
    ent__txn_spare_free(s);
    ent__written_free(s);
    free(s->wc_tc);
    ent__bk_close(&s->bk);
    ent__layout_free(s->lay);
    if (!in_child) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->delivered);
        pthread_mutex_destroy(&s->turn_mu);
        pthread_cond_destroy(&s->turn);
        pthread_mutex_destroy(&s->wr_mu);
    }
    ent__group_free(s, in_child);
    free(s->path);
    free(s->dir);
    free(s);
}

/* The backend tables a store of schema sc uses: one per type and per index (store_layout.c), and
 * the store's own (meta, log, subs, with room for a few more): a bound sized from it (LMDB) has
 * room for the schema the store is created or evolved with. */
static unsigned schema_tables(const ent_schema *sc)
{
    uint64_t n = 8;
    if (!sc) return 0;
    for (size_t i = 0; i < sc->n_types; i++) n += 1 + (uint64_t)sc->types[i]->n_indexes;
    return n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
}

/* The default of an indexed or unique field goes into the index of every entity that lacks the
 * field. One longer than the backend's key limit was taken by a new store (or an evolution of an
 * empty one, where no index build met it), and then every write of such an entity failed on an
 * index value the caller never gave. Checked where ent__schema_check_new() is: on the schema a
 * store is made or evolved with. */
static int check_default_keys(const ent_store *s, const ent_schema *schema)
{
    ent_buf b = {0};
    int rc = ENT_OK;
    if (schema->from_store) return ENT_OK; /* made under the rules of its day, as ent__schema_check_new() says */
    for (size_t i = 0; !rc && i < schema->n_types; i++) {
        const ent_type *ty = schema->types[i];
        for (size_t x = 0; !rc && x < ty->n_indexes; x++) {
            const ent_field *f = ty->indexes[x];
            char path[160];
            if (!f->def) continue;
            b.n = 0;
            if ((rc = ent__ikey_from_val(&b, f, f->def))) break;
            /* the tag byte is the library's: counted out, as ent__bk_ikey_check() does */
            if (b.n > s->bk.lim.max_key)
                rc = ent__err(ENT_SCHEMA, "%s: the default is an index value of %zu bytes, over the backend's key limit "
                              "of %zu bytes (every entity without the field would be refused)",
                              ent__field_path(f, path, sizeof path), b.n - 1, s->bk.lim.max_key - 1);
        }
    }
    ent__buf_free(&b);
    return rc;
}

/* An open of an existing store found no meta (no table, or no format in it). LMDB data with
 * tables is no missing store: a store whose main page was damaged was "no libentity store at"
 * its directory for check, dump and every other open, which sent its user looking elsewhere.
 * ENT_FORMAT, as for an open that would create a store there; else ENT_NOTFOUND. */
static int no_store(ent_store *s, const char *path, const char *why, int *tables_seen)
{
    ent_backend_info bi;
    /* The count is the backend's now, not the open's snapshot's: another process's init that
     * committed since the snapshot shows here (*tables_seen: the caller looks again) */
    if (ent__bk_info(s, &bi) == ENT_OK && bi.tables > 0 && (*tables_seen = 1))
        return ent__err(ENT_FORMAT, "%s is not a libentity store: its LMDB data holds %" PRIu64 " entr%s but no store "
                        "meta (another program's LMDB data, a damaged store that lost its meta, or a copy of a store's directory "
                        "made while a process wrote it, which is torn: copy a live store with `entity copy`)",
                        path, bi.tables, bi.tables == 1 ? "y" : "ies");
    return ent__err(ENT_NOTFOUND, "no libentity store at %s%s", path, why);
}

int ent_store_open(ent_store **out, const char *path, const ent_schema *schema,
                   const ent_store_opts *opts)
{
    return ent__store_open(out, path, schema, opts, NULL);
}

static int store_open_once(ent_store **out, const char *path, const ent_schema *schema,
                           const ent_store_opts *opts, const char *mirror_of, int *tables_seen);

/* An open that found no store meta in its snapshot while the backend held tables looks again, at
 * most twice: the tables may be those of another process's init that committed meanwhile (the
 * store is there now); a store that lost its meta, or another program's data, stays ENT_FORMAT. */
/* Whether opts open a store of a volatile backend: a new store whose handle is not made yet, so
 * no thread can hold its writer (the backend ignores the path). An opts of another version is
 * refused by the open itself. */
static int new_volatile(const ent_store_opts *opts)
{
    const ent_backend_ops *b;
    if (!opts || opts->version != ENT_STORE_OPTS_VERSION) return 0;
    b = ent__backend_find(opts->backend, NULL);
    return b && (b->caps & ENT_BK_CAP_VOLATILE);
}

int ent__store_open(ent_store **out, const char *path, const ent_schema *schema,
                    const ent_store_opts *opts, const char *mirror_of)
{
    int rc, tables_seen = 0;
    /* A writable open begins a write transaction (to create, evolve, or mark the store), which
     * waits for the store's writer: from an event callback that could close a cycle of waits, as
     * any write from there (txn.c), with a thread that holds that writer and commits to the
     * callback's store (it hung for good). */
    if (out && !(opts && opts->read_only) && ent__log_in_callback() && !new_volatile(opts)) {
        *out = NULL;
        return ent__err(ENT_BUSY, "an event callback cannot open a store for writing (the open takes its writer): open "
                                  "it read-only, or hand the open to another thread");
    }
    for (int i = 0; i < 3; i++) {
        tables_seen = 0;
        rc = store_open_once(out, path, schema, opts, mirror_of, &tables_seen);
        if (rc != ENT_FORMAT || !tables_seen) break;
    }
    return rc;
}

static int store_open_once(ent_store **out, const char *path, const ent_schema *schema,
                           const ent_store_opts *opts, const char *mirror_of, int *tables_seen)
{
    ent_store_opts def = ENT_STORE_OPTS_INIT;
    ent_store *s = NULL;
    ent_backend_opts bo;
    ent_backend_info bi;
    ent_txn t;
    ent_schema *stored = NULL, *next = NULL;
    ent__vers keep = {0}; /* the history check's list for the schema an evolution stores */
    ent_slice v;
    uint64_t gen = 0;
    int rc, txn_open = 0, created = 0, evolving = 0;
    int durability;

    if (!out) return ent__err(ENT_INVALID, "ent_store_open: out is NULL");
    *out = NULL;
    memset(&t, 0, sizeof t); /* the failure path frees its buffers, also before it begins */
    if (!opts) opts = &def;
    if (opts->version != ENT_STORE_OPTS_VERSION)
        return ent__err(ENT_INVALID, "ent_store_open: opts->version %u, expected %u", opts->version,
                        ENT_STORE_OPTS_VERSION);
    if (opts->durability < ENT_DURABILITY_STORED || opts->durability > ENT_NONE)
        return ent__err(ENT_INVALID, "ent_store_open: unknown durability %d", opts->durability);
    if (schema && !schema->sealed)
        return ent__err(ENT_INVALID, "ent_store_open: schema is not sealed (ent_schema_check)");
    /* Below it, LMDB's map is full before the store's tables exist, and the directory it left
     * could not be opened again: refused before anything is made. */
    if (opts->map_size && opts->map_size < ENT_MAP_SIZE_MIN)
        return ent__err(ENT_INVALID, "ent_store_open: map_size %zu is below the smallest a store starts with (%zu)",
                        opts->map_size, ENT_MAP_SIZE_MIN);
    s = calloc(1, sizeof *s);
    if (!s) return ent__err(ENT_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->delivered, NULL);
    pthread_mutex_init(&s->turn_mu, NULL);
    pthread_cond_init(&s->turn, NULL);
    pthread_mutex_init(&s->wr_mu, NULL);
    s->read_only = opts->read_only;
    s->path = strdup(path ? path : "");
    if (!s->path) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    path = s->path[0] ? s->path : "(no path)"; /* for messages: a memory store may have none */
    if ((rc = ent__group_new(s))) goto fail;
    memset(&bo, 0, sizeof bo);
    bo.read_only = opts->read_only;
    bo.durability = opts->durability == ENT_DURABILITY_STORED ? ENT_DURABLE : opts->durability;
    bo.map_size = opts->map_size;
    bo.max_tables = schema_tables(schema);
    /* Opening an existing store creates nothing: no directory, no backend files. */
    bo.must_exist = opts->read_only || opts->no_create || !schema;
    if ((rc = ent__bk_open(&s->bk, opts->backend, s->path, &bo))) goto fail;
    /* The files named beside the store after the open (relay.lock, mirror.lock, a waiter's
     * claim) are named by this: "./st" named another directory, or none, once the host had
     * chdir()ed (a daemon's chdir("/")). */
    if (s->path[0] && (ent__bk_caps(&s->bk) & ENT_BK_CAP_PERSISTENT) && !(s->dir = realpath(s->path, NULL)) &&
        errno == ENOMEM) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    /* What the backend held before this handle made anything, where it may create a store: a
     * store is created only in an empty one (not over another program's LMDB databases, nor a
     * store that lost its meta). */
    memset(&bi, 0, sizeof bi);
    if (!bo.must_exist && (rc = ent__bk_info(s, &bi))) goto fail;

    if ((rc = raw_begin(&t, s, !opts->read_only))) goto fail;
    txn_open = 1;
    rc = ent__bk_table(&t, "meta", opts->read_only ? 0 : ENT_TBL_CREATE, &s->t_meta);
    if (rc == ENT_NOTFOUND) {
        rc = no_store(s, path, "", tables_seen);
        goto fail;
    }
    if (rc) goto fail;
    rc = ent__meta_get(&v, &t, "format");
    if (rc == ENT_NOTFOUND) {
        /* A new store's meta table is empty. One that lacks only its format is a damaged store:
         * creating a store over it replaced its schema, id and durability and called the result
         * clean (the records, indexes and log of the old schema stayed). */
        static const char *const kept[] = {"schema", "schema_gen", "store_id", "log"};
        for (size_t i = 0; i < sizeof kept / sizeof kept[0] && rc == ENT_NOTFOUND; i++)
            if ((rc = ent__meta_get(&v, &t, kept[i])) == ENT_OK)
                rc = ent__err(ENT_CORRUPT, "%s: store meta lacks \"format\" but holds \"%s\": a damaged store, not a new one",
                              path, kept[i]);
        if (rc != ENT_NOTFOUND) goto fail;
        if (!schema || opts->read_only || opts->no_create) {
            rc = no_store(s, path, schema ? "" : " (a schema is needed to create one)", tables_seen);
            goto fail;
        }
        if (bi.tables > 0) {
            rc = ent__err(ENT_FORMAT, "%s is not a libentity store, and not empty: it holds %" PRIu64
                          " entr%s already (another program's LMDB data, or a store that lost its meta); a store is "
                          "created only in an empty or new directory", path, bi.tables, bi.tables == 1 ? "y" : "ies");
            goto fail;
        }
        if ((rc = ent__schema_check_new(schema)) || (rc = check_default_keys(s, schema))) goto fail;
        durability = opts->durability == ENT_DURABILITY_STORED ? ENT_DURABLE : opts->durability;
        if ((rc = store_init(&t, schema, durability))) goto fail;
        if ((rc = ent__mirror_load(s, &t, mirror_of, 1))) goto fail;
        if ((rc = ent__schema_copy(&next, schema))) goto fail;
        created = 1;
        gen = 1;
    } else if (rc) {
        goto fail;
    } else {
        uint8_t dur = ENT_DURABLE;
        const uint8_t *f = v.data;
        if (v.len != 4) {
            rc = ent__err(ENT_CORRUPT, "%s: store meta \"format\" is damaged", path);
            goto fail;
        }
        if (f[0] || f[1] || f[2] || f[3] > ENT_FORMAT_VERSION) {
            rc = ent__err(ENT_FORMAT, "%s: store format %u is newer than this library's %u",
                          path, (unsigned)ent__dec_u64((const uint8_t[8]){0, 0, 0, 0, f[0], f[1], f[2], f[3]}),
                          ENT_FORMAT_VERSION);
            goto fail;
        }
        if (f[3] < ENT_FORMAT_VERSION && !opts->read_only) {
            /* see ENT_FORMAT_VERSION: from here on, libraries of an older format refuse it */
            const uint8_t now[4] = {0, 0, 0, ENT_FORMAT_VERSION};
            if ((rc = ent__meta_put(&t, "format", now, sizeof now))) goto fail;
        }
        if (ent__meta_get(&v, &t, "durability") == ENT_OK && v.len == 1 && *(const uint8_t *)v.data <= ENT_NONE)
            dur = *(const uint8_t *)v.data;
        durability = opts->durability == ENT_DURABILITY_STORED ? dur : opts->durability;
        if (!opts->read_only && ent__meta_get(&v, &t, ENT__META_REPLAY_OPEN) == ENT_OK) {
            /* A replay was killed while it built this store: it lacks the log's tail and its unique
             * indexes, which a writer would then not enforce. Readable, for a look at it. */
            uint64_t last = 0, txn = 0;
            rc = ent__meta_get_pair(&last, &txn, &t, "log");
            if (!rc)
                rc = ent__err(ENT_CORRUPT, "%s holds a replay that did not finish (of store %.*s, up to seq %" PRIu64
                              "): its unique indexes are not built and the log may go on; remove it and replay again",
                              path, (int)v.len, (const char *)v.data, last);
            goto fail;
        }
        if ((rc = ent__meta_get_u64(&gen, &t, "schema_gen"))) {
            if (rc == ENT_NOTFOUND) rc = ent__err(ENT_CORRUPT, "%s: store meta lacks schema_gen", path);
            goto fail;
        }
        if ((rc = ent__schema_from_meta(&stored, &t, "schema"))) goto fail;
        /* A flipped byte that leaves the stored schema valid JSON ("indexed" made "unique", a max)
         * opened without complaint: a writer then made an empty unique table, look-ups through it
         * found nothing with exit 0, and an evolution would have stored the damaged schema as the
         * next version's base, out of check's sight. Read-only opens go on, so that the store can
         * still be dumped and checked (verify names the damage), as for a damaged store id. */
        if (!opts->read_only && (rc = ent__schema_copy_check(&t, stored->version))) goto fail;
        if ((rc = ent__mirror_load(s, &t, mirror_of, 0))) goto fail;
        if (schema) {
            int same = 0;
            if ((rc = ent__schemas_equal(stored, schema, &same))) goto fail;
            if (!same) {
                if (strcmp(schema->name, stored->name) != 0) {
                    rc = ent__err(ENT_SCHEMA, "the store holds schema %s, not %s", stored->name, schema->name);
                    goto fail;
                }
                if (schema->version < stored->version) {
                    /* An old program meets a store that a newer one evolved (an evolution that
                     * finished before a kill, too): it said "an evolution needs a higher
                     * version", which reads as if this program should evolve the store. */
                    rc = ent__err(ENT_SCHEMA,
                                  "schema %s version %" PRIu32 " is older than the store's version %" PRIu32
                                  " (a newer program evolved it): open it with version %" PRIu32
                                  "'s schema or a later one, or with no schema (NULL) to use the stored one",
                                  schema->name, schema->version, stored->version, stored->version);
                    goto fail;
                }
                if (schema->version == stored->version) {
                    rc = ent__err(ENT_SCHEMA,
                                  "schema %s version %" PRIu32 " differs from the stored version %" PRIu32
                                  "; an evolution needs a higher version",
                                  schema->name, schema->version, stored->version);
                    goto fail;
                }
                if ((rc = ent__schema_check_history(&t, stored, schema, &keep))) goto fail;
                if ((rc = ent__schema_check_new(schema)) || (rc = check_default_keys(s, schema))) goto fail;
                if (opts->read_only) {
                    rc = ent__err(ENT_READONLY, "%s: cannot evolve the schema of a store opened read-only", path);
                    goto fail;
                }
                if (s->mirror_of[0] && !s->mirror_writer) {
                    rc = ent__err(ENT_READONLY, "%s is a mirror of store %s: its schema follows the "
                                  "primary's, evolve that one", path, s->mirror_of);
                    goto fail;
                }
                if ((rc = ent__schema_copy(&next, schema))) goto fail;
                evolving = 1;
                gen++;
                if ((rc = ent__schema_store(&t, next, gen))) goto fail;
                if ((rc = ent__schema_mark(&t, next->version))) goto fail;
                if ((rc = ent__schema_check_put(&t, next->version, &keep))) goto fail;
            }
        }
        if (!next) {
            next = stored;
            stored = NULL;
        }
    }
    if ((rc = ent__store_id_load(s, &t, !opts->read_only))) goto fail;
    {
        uint32_t ver = next->version;
        if ((rc = ent__layout_open(&s->lay, &t, next, gen, !opts->read_only))) {
            /* A read-only open of a store whose damaged schema names a table it never had (an
             * index made unique): name the damage, not the table. */
            if (rc == ENT_NOTFOUND && !created && ent__schema_copy_check(&t, ver) == ENT_CORRUPT) rc = ENT_CORRUPT;
            goto fail;
        }
    }
    next = NULL;
    t.lay = s->lay;
    if (evolving && (rc = ent__store_evolve(&t, stored, s->lay->schema))) goto fail;
    if ((rc = ent__bk_table(&t, "log", opts->read_only ? 0 : ENT_TBL_CREATE, &s->t_log)) ||
        (rc = ent__bk_table(&t, "subs", opts->read_only ? 0 : ENT_TBL_CREATE, &s->t_subs)))
        goto fail;
    txn_open = 0;
    rc = ent__bk_commit(&t);
    raw_end(&t); /* also when the commit fails: an index built at open filled t's buffers */
    if (rc) goto fail_notxn;
    s->durability = (ent_durability)durability;
    if (!opts->read_only && durability != bo.durability && (rc = ent__bk_set_durability(s, durability)))
        goto fail_notxn;
    ent_schema_free(stored);
    ent__vers_free(&keep);
    s->alias = schema;
    s->alias_gen = gen;
    *out = s;
    return ENT_OK;
fail:
    if (txn_open) ent__bk_abort(&t);
    raw_end(&t);
fail_notxn:
    ent_schema_free(stored);
    ent__vers_free(&keep);
    ent_schema_free(next);
    store_free(s);
    return rc;
}

void ent_store_set_progress(ent_store *s, ent_progress_cb cb, void *payload)
{
    if (!s) return;
    s->progress = cb;
    s->progress_payload = payload;
}

void ent_store_close(ent_store *s)
{
    if (!s) return;
    /* From a callback of s the delivery and the commit under it go on using s once the callback
     * returns: freeing it here was a use after free. Refused, with a message (nothing to return). */
    if (ent__log_delivering(s)) {
        ent__err(ENT_BUSY, "ent_store_close: called from an event callback of the store; it stays open "
                           "(close it once the call that committed returns)");
        return;
    }
    /* Likewise from the thread that holds the store's writer (ent_txn_run()'s fn, whose group
     * commits after it returns; an explicit write txn left open). */
    if (ent__txn_holds_write(s)) {
        ent__err(ENT_BUSY, "ent_store_close: this thread holds the store's write transaction (its own, or "
                           "ent_txn_run()'s); it stays open (end the transaction first)");
        return;
    }
    /* Or a read transaction of this thread, its own or an iterator's: its snapshot, its reader
     * slot and its handles were freed under it (a crash at its next use or its end). */
    if (ent__txn_holds_any(s)) {
        ent__err(ENT_BUSY, "ent_store_close: this thread has a transaction of the store open (its own, or an "
                           "iterator's without one); it stays open (end the transaction or free the iterator first)");
        return;
    }
    /* Calls of other threads without a transaction, in a group (its leader, callers queued behind
     * it) or each alone: a host shutting down with writers still running freed the store under
     * them. Refused likewise; a call not yet counted is the host's to finish first (see store.h). */
    {
        size_t n = ent__group_busy(s);
        if (n) {
            ent__err(ENT_BUSY, "ent_store_close: other threads are in write calls on the store (without a "
                               "transaction, alone or in a group commit); it stays open (close it once they "
                               "have returned)");
            return;
        }
    }
    /* And transactions of other threads, a call's own (a read without a transaction: ent_get,
     * ent_count...) or theirs: a host's atexit() handler that closed the store while its threads
     * still read freed it under them (SIGSEGV in 1 of 10 exits with two threads counting). */
    if (s->bk.fork_gen == ent__fork_gen() && __atomic_load_n(&s->txns_open, __ATOMIC_ACQUIRE)) {
        ent__err(ENT_BUSY, "ent_store_close: other threads have transactions of the store open (a read or write, "
                           "an iterator, a call without a transaction); it stays open (close it once they have ended)");
        return;
    }
    ent__store_free_cbs(s);
    store_free(s);
}

const ent_schema *ent_store_schema(ent_store *s)
{
    const ent_schema *sc;
    if (!s) return NULL;
    pthread_mutex_lock(&s->mu);
    sc = s->lay->schema;
    pthread_mutex_unlock(&s->mu);
    return sc;
}

const ent_type *ent_store_type(ent_store *s, const char *name)
{
    return ent_schema_type(ent_store_schema(s), name);
}

/* NULL gives "" and ENT_DURABILITY_STORED (no mode), like ent_store_path() and ent_store_id():
 * an accessor has no code to return, and a host's failed open leaves its handle NULL. */
const char *ent_store_backend(const ent_store *s) { return s ? ent__bk_name(&s->bk) : ""; }
ent_durability ent_store_durability(const ent_store *s) { return s ? s->durability : ENT_DURABILITY_STORED; }
const char *ent_store_path(const ent_store *s) { return s ? (s->dir ? s->dir : s->path) : ""; }

/* The mode is a setting of the store, like its subscriptions: it is written without an event and
 * a mirror keeps its own (a read copy the stream rebuilds is often `lazy`; promoted, it is the
 * primary, which an operator wants `durable` from its next open on). This handle keeps the mode it
 * opened with: LMDB's flags and the write-ahead file are set up at the open. */
int ent__durability_check(int mode, const char *who)
{
    if (mode != ENT_DURABLE && mode != ENT_LAZY && mode != ENT_NONE)
        return ent__err(ENT_INVALID, "%s: %d is no durability (durable, lazy or none)", who, mode);
    return ENT_OK;
}

int ent__durability_put(ent_txn *t, int mode)
{
    uint8_t v = (uint8_t)mode;
    return ent__meta_put(t, "durability", &v, 1);
}

int ent_store_set_stored_durability(ent_store *s, ent_durability mode)
{
    ent_txn *t = NULL;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if ((rc = ent__durability_check((int)mode, "ent_store_set_stored_durability"))) return rc;
    if (s->read_only)
        return ent__err(ENT_READONLY, "store %s is open read-only: storing its durability writes", s->path);
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    if ((rc = ent__durability_put(t, (int)mode))) {
        ent_txn_abort(t);
        return rc;
    }
    if ((rc = ent_txn_commit(t))) return rc;
    /* On the disk before it returns, whatever this handle's mode: committed by a `none` (or a
     * killed `lazy`) handle it stayed in the page cache, and a power cut brought the store back in
     * its old mode with no word, its later commits (acknowledged to hosts that open it in the
     * stored mode) synced by nothing. */
    if (s->durability != ENT_DURABLE && (rc = ent_store_sync(s)))
        return ent__err_prefix(rc, "store %s: its durability was stored, but not synced: ", s->path);
    return ENT_OK;
}

int ent_store_check_path(ent_store *s)
{
    if (!s) return ent__err(ENT_INVALID, "ent_store_check_path: store is NULL");
    return ent__bk_at_path(s);
}

int ent_store_sync(ent_store *s)
{
    if (!s) return ent__err(ENT_INVALID, "ent_store_sync: store is NULL");
    if (s->read_only) return ent__err(ENT_READONLY, "store %s: opened read-only, it cannot sync its file", s->path);
    /* LMDB's sync takes the writer's lock (a commit may not have its record yet) unless nothing is
     * left to make durable: from the thread that holds the writer it was refused as if another
     * handle held it, and a memory store said ENT_OK. Refused here on every backend, whatever is
     * left, as ent_store_copy() is. */
    if (ent__txn_holds_write(s))
        return ent__err(ENT_BUSY, "ent_store_sync: this thread holds the store's write transaction (its own, or "
                                  "ent_txn_run()'s); sync once it has ended");
    /* From an event callback the sync does not wait for this process's writer (2): a thread that
     * holds it may be committing to the callback's store, waiting for this delivery (it hung). */
    return ent__bk_sync(s, ent__log_in_callback() ? 2 : 1);
}


int ent_store_get_info(ent_store_info *out, ent_store *s)
{
    ent_backend_info bi;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_store_get_info: out is NULL");
    memset(out, 0, sizeof *out);
    if ((rc = ent__store_check(s))) return rc;
    if ((rc = ent__bk_info(s, &bi))) return rc;
    out->map_size = bi.map_size;
    out->used_bytes = bi.used_bytes;
    out->disk_bytes = bi.disk_bytes;
    return ENT_OK;
}

int ent_store_get_readers(ent_store_readers *out, ent_store *s)
{
    ent_backend_info bi;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_store_get_readers: out is NULL");
    memset(out, 0, sizeof *out);
    if ((rc = ent__store_check(s))) return rc;
    memset(&bi, 0, sizeof bi);
    if ((rc = ent__bk_info(s, &bi))) return rc;
    out->readers = bi.readers;
    out->oldest_behind = bi.oldest_behind;
    out->oldest_pid = bi.oldest_pid;
    return ENT_OK;
}

/* The first damaged page check_pages names, for the refusal of a compacting copy. */
static void first_page_problem(const char *line, void *payload)
{
    char *out = payload;
    if (!out[0]) snprintf(out, 256, "%s", line);
}

int ent_store_copy(ent_store *s, const char *dest, int compact)
{
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (!dest || !*dest) return ent__err(ENT_INVALID, "copy: no destination");
    /* LMDB's plain copy takes the writer's lock to start its snapshot: from the thread that holds
     * the writer (its own write txn, ent_txn_run()'s fn) it waited for itself, forever. */
    if (ent__txn_holds_write(s)) return ent__err_holds_write_in("ent_store_copy");
    /* LMDB's plain copy waits for the writer's lock: from an event callback a cycle of waits, as
     * for a write (ent_store_open() above). */
    if (!compact && ent__log_in_callback())
        return ent__err(ENT_BUSY, "an event callback cannot copy a store (a plain copy takes its writer): copy it "
                                  "compacted, or from another thread");
    if (compact) {
        /* A compacting copy walks every B-tree through the engine, which trusts its pages: on a
         * damaged one it crashed inside liblmdb (a memcpy of 4 GiB), or wrote whatever the
         * damage said. The page check reads them with pread first, as verify does; a plain copy
         * copies the file as it is and stays possible. */
        ent_txn *t = NULL;
        uint64_t n = 0;
        char first[256] = "";
        if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
        rc = ent__bk_check_pages(t, NULL, first_page_problem, first, &n);
        ent_txn_abort(t);
        if (rc) return rc;
        if (n)
            return ent__err(ENT_CORRUPT, "the store's pages are damaged (%s%s): a compacting copy reads "
                            "through them; a plain copy takes the file as it is", first,
                            n > 1 ? ", and more" : "");
    }
    return ent__bk_copy(s, dest, compact);
}
