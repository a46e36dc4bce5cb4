/* Store: open and create, the stored schema and its evolution, table layout, close. */
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

static const ent_backend_ops *backend_by_name(const char *name)
{
    if (!name || strcmp(name, "lmdb") == 0) return &ent__backend_lmdb;
    if (strcmp(name, "memory") == 0) return &ent__backend_memory;
    return NULL;
}

/* ---- meta ------------------------------------------------------------------------------- */

static int meta_get(ent_slice *out, ent_txn *t, const char *key)
{
    ent_slice k = {key, strlen(key)};
    return t->s->ops->get(t->bt, t->s->t_meta, &k, out);
}

static int meta_put(ent_txn *t, const char *key, const void *v, size_t n)
{
    ent_slice k = {key, strlen(key)}, val = {v, n};
    return t->s->ops->put(t->bt, t->s->t_meta, &k, &val, 0);
}

int ent__meta_get_u64(uint64_t *out, ent_txn *t, const char *key)
{
    ent_slice v;
    int rc = meta_get(&v, t, key);
    if (rc) return rc;
    if (v.len != 8) return ent__err(ENT_CORRUPT, "store meta \"%s\": %zu bytes, expected 8", key, v.len);
    *out = ent__dec_u64(v.data);
    return ENT_OK;
}

int ent__meta_put_u64(ent_txn *t, const char *key, uint64_t v)
{
    uint8_t b[8];
    ent__enc_u64(b, v);
    return meta_put(t, key, b, 8);
}

int ent__meta_get_pair(uint64_t *a, uint64_t *b, ent_txn *t, const char *key)
{
    ent_slice v;
    int rc = meta_get(&v, t, key);
    if (rc == ENT_NOTFOUND) {
        *a = *b = 0;
        return ENT_OK;
    }
    if (rc) return rc;
    if (v.len != 16) return ent__err(ENT_CORRUPT, "store meta \"%s\": %zu bytes, expected 16", key, v.len);
    *a = ent__dec_u64(v.data);
    *b = ent__dec_u64((const uint8_t *)v.data + 8);
    return ENT_OK;
}

int ent__meta_put_pair(ent_txn *t, const char *key, uint64_t a, uint64_t b)
{
    uint8_t buf[16];
    ent__enc_u64(buf, a);
    ent__enc_u64(buf + 8, b);
    return meta_put(t, key, buf, 16);
}

/* ---- layout -------------------------------------------------------------------------------- */

static void layout_free(ent_layout *l)
{
    while (l) {
        ent_layout *older = l->older;
        if (l->schema) {
            for (size_t i = 0; i < l->schema->n_types; i++) free(l->idx ? l->idx[i] : NULL);
        }
        free(l->idx);
        free(l->data);
        ent_schema_free(l->schema);
        free(l);
        l = older;
    }
}

static void table_name(char *buf, size_t size, char tag, const ent_type *t, const ent_field *f)
{
    if (f)
        snprintf(buf, size, "%c:%s.%s", tag, t->name, f->name);
    else
        snprintf(buf, size, "%c:%s", tag, t->name);
}

/* Resolve (creating when `create`) every table of schema `sc` inside backend txn bt.
 * out: a new layout owning sc on ENT_OK. */
static int layout_open(ent_layout **out, ent_store *s, void *bt, ent_schema *sc, uint64_t gen,
                       int create)
{
    ent_layout *l = calloc(1, sizeof *l);
    char name[160];
    int rc = ENT_NOMEM;
    unsigned flags = create ? ENT_TBL_CREATE : 0;
    if (!l) goto fail;
    l->gen = gen;
    l->data = calloc(sc->n_types ? sc->n_types : 1, sizeof *l->data);
    l->idx = calloc(sc->n_types ? sc->n_types : 1, sizeof *l->idx);
    if (!l->data || !l->idx) goto fail;
    for (size_t i = 0; i < sc->n_types; i++) {
        const ent_type *t = sc->types[i];
        table_name(name, sizeof name, 't', t, NULL);
        if ((rc = s->ops->table(s->be, bt, name, flags, &l->data[i]))) goto fail;
        l->idx[i] = calloc(t->n_indexes ? t->n_indexes : 1, sizeof **l->idx);
        if (!l->idx[i]) {
            rc = ENT_NOMEM;
            goto fail;
        }
        for (size_t j = 0; j < t->n_indexes; j++) {
            const ent_field *f = t->indexes[j];
            int uniq = f->unique;
            table_name(name, sizeof name, uniq ? 'u' : 'x', t, f);
            rc = s->ops->table(s->be, bt, name, flags | (uniq ? 0 : ENT_TBL_DUPSORT), &l->idx[i][j]);
            if (rc) goto fail;
        }
    }
    l->schema = sc;
    *out = l;
    return ENT_OK;
fail:
    if (rc == ENT_NOMEM) ent__err(rc, "out of memory opening tables");
    if (l) {
        l->schema = NULL;
        if (l->idx)
            for (size_t i = 0; i < sc->n_types; i++) free(l->idx[i]);
        free(l->idx);
        free(l->data);
        free(l);
    }
    return rc;
}

static int schema_from_meta(ent_schema **out, ent_txn *t, const char *key)
{
    ent_slice v;
    int rc = meta_get(&v, t, key);
    if (rc == ENT_NOTFOUND) return ent__err(ENT_CORRUPT, "store meta has no \"%s\"", key);
    if (rc) return rc;
    rc = ent_schema_load_json(out, v.data, v.len, "<store>");
    if (rc == ENT_SCHEMA) return ent__err_prefix(ENT_CORRUPT, "stored schema does not load: ");
    return rc;
}

/* ---- index building ------------------------------------------------------------------------ */

/* Build index j of type `type` over its existing entities (a new index after an evolution). */
static int index_build(ent_txn *t, const ent_type *type, size_t j)
{
    ent_store *s = t->s;
    const ent_field *f = type->indexes[j];
    unsigned dt = t->lay->data[type->pos], it = t->lay->idx[type->pos][j];
    void *cur = NULL;
    ent_slice k, v;
    int rc = s->ops->cursor_open(t->bt, dt, &cur), op = ENT_CUR_FIRST;
    if (rc) return rc;
    for (;; op = ENT_CUR_NEXT) {
        ent_entity *e = NULL;
        const ent_val *val;
        rc = s->ops->cursor_get(cur, op, &k, &v);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        if ((rc = ent__record_read(&e, type, v.data, v.len))) break;
        val = &e->slots[f->pos];
        if (val->k != EV_UNSET) {
            ent_slice ik, pk = k;
            t->k2.n = 0;
            rc = ent__ikey_from_val(&t->k2, f, val);
            if (!rc) {
                ik.data = t->k2.p;
                ik.len = t->k2.n;
                rc = s->ops->put(t->bt, it, &ik, &pk, f->unique ? ENT_PUT_NOOVERWRITE : 0);
                if (rc == ENT_CONFLICT) {
                    ent_key key;
                    char kb[300];
                    ent__pk_decode(&key, type->key, k.data, k.len);
                    rc = ent__err(ENT_CONFLICT,
                                  "cannot build unique index %s.%s: value of %s %s is taken by "
                                  "another entity", type->name, f->name, type->name,
                                  ent__key_str(&key, kb, sizeof kb));
                }
            }
        }
        ent_entity_free(e);
        if (rc) break;
    }
    s->ops->cursor_close(cur);
    return rc;
}

static int same_default(const ent_field *a, const ent_field *b)
{
    if (!a->def || !b->def) return !a->def && !b->def;
    return ent__val_equal(a->def, b->def);
}

/* Apply a compatible evolution from `prev` to `next` (both sealed) in write txn t whose layout
 * already points at `next`: build indexes that are new, clear indexes that were dropped. */
static int evolve(ent_txn *t, const ent_schema *prev, const ent_schema *next)
{
    ent_store *s = t->s;
    int rc;
    for (size_t i = 0; i < next->n_types; i++) {
        const ent_type *nt = next->types[i];
        const ent_type *pt = ent_schema_type(prev, nt->name);
        for (size_t j = 0; j < nt->n_indexes; j++) {
            const ent_field *nf = nt->indexes[j];
            const ent_field *pf = pt ? ent_type_field(pt, nf->name) : NULL;
            /* An index is rebuilt when its field's default changes: entities stored without the
             * field read with the default, and the index must hold what they read as. */
            int had = pf && pf->index_no >= 0 && pf->unique == nf->unique && same_default(pf, nf);
            if (had || !pt) continue;
            /* The table may hold entries of an index that was dropped and comes back. */
            if ((rc = s->ops->clear(t->bt, t->lay->idx[i][j]))) return rc;
            if ((rc = index_build(t, nt, j))) return rc;
        }
        if (pt) {
            /* Dropped indexes: empty their tables so a later re-creation starts clean. */
            for (size_t j = 0; j < pt->n_indexes; j++) {
                const ent_field *pf = pt->indexes[j];
                const ent_field *nf = ent_type_field(nt, pf->name);
                char name[160];
                unsigned tbl;
                if (nf && nf->index_no >= 0 && nf->unique == pf->unique) continue;
                table_name(name, sizeof name, pf->unique ? 'u' : 'x', pt, pf);
                rc = s->ops->table(s->be, t->bt, name, pf->unique ? 0 : ENT_TBL_DUPSORT, &tbl);
                if (rc == ENT_NOTFOUND) continue;
                if (rc || (rc = s->ops->clear(t->bt, tbl))) return rc;
            }
        }
    }
    return ENT_OK;
}

/* Refuse `next` unless it is a compatible evolution of every schema version the store has had:
 * comparing with each stored version catches an id reused after its field was removed. */
static int check_history(ent_txn *t, const ent_schema *cur, const ent_schema *next)
{
    int rc = ent_schema_compare(cur, next);
    if (rc) return rc;
    for (uint32_t ver = 1; ver < cur->version; ver++) {
        char key[64];
        ent_schema *old = NULL;
        ent_slice v;
        snprintf(key, sizeof key, "schema_v/%" PRIu32, ver);
        if (meta_get(&v, t, key) != ENT_OK) continue;
        if ((rc = ent_schema_load_json(&old, v.data, v.len, "<store>")) == ENT_NOMEM) return rc;
        if (rc) continue;
        rc = ent_schema_compare(old, next);
        ent_schema_free(old);
        if (rc) return ent__err_prefix(rc, "against stored version %" PRIu32 ": ", ver);
    }
    return ENT_OK;
}

static int schema_store(ent_txn *t, const ent_schema *sc, uint64_t gen)
{
    char *json = NULL, key[64];
    int rc = ent_schema_to_json(&json, sc, 0);
    if (rc) return rc;
    snprintf(key, sizeof key, "schema_v/%" PRIu32, sc->version);
    if (!(rc = meta_put(t, "schema", json, strlen(json))) &&
        !(rc = meta_put(t, key, json, strlen(json))))
        rc = ent__meta_put_u64(t, "schema_gen", gen);
    free(json);
    return rc;
}

static int schema_copy(ent_schema **out, const ent_schema *sc)
{
    char *json = NULL;
    int rc = ent_schema_to_json(&json, sc, 0);
    if (rc) return rc;
    rc = ent_schema_load_json(out, json, strlen(json), "<schema>");
    free(json);
    return rc;
}

static int schemas_equal(const ent_schema *a, const ent_schema *b, int *out)
{
    char *ja = NULL, *jb = NULL;
    int rc = ent_schema_to_json(&ja, a, 0);
    if (!rc) rc = ent_schema_to_json(&jb, b, 0);
    if (!rc) *out = strcmp(ja, jb) == 0;
    free(ja);
    free(jb);
    return rc;
}

/* A bare transaction on the store during open, before any layout exists. */
static int raw_begin(ent_txn *t, ent_store *s, int write)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    t->write = write;
    return s->ops->txn_begin(s->be, write, &t->bt);
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
    uint8_t fmt[4] = {0, 0, 0, ENT_FORMAT_VERSION}, id[16], dur = (uint8_t)durability;
    int rc, fd;
    size_t got = 0;
    /* A store id tells copies and replays apart from their origin; not security-sensitive. */
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, id, sizeof id);
        got = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    if (got < sizeof id) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        for (size_t i = 0; i < sizeof id; i++, x = x * 6364136223846793005ULL + 1) id[i] = (uint8_t)(x >> 56);
    }
    if ((rc = meta_put(t, "format", fmt, sizeof fmt))) return rc;
    if ((rc = meta_put(t, "store_id", id, sizeof id))) return rc;
    if ((rc = meta_put(t, "durability", &dur, 1))) return rc;
    return schema_store(t, sc, 1);
}

/* The backend, the layouts and the handle itself (open's failure path and close). */
static void store_free(ent_store *s)
{
    if (s->be) s->ops->close(s->be);
    layout_free(s->lay);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->notify_mu);
    pthread_cond_destroy(&s->delivered);
    free(s->path);
    free(s);
}

int ent_store_open(ent_store **out, const char *path, const ent_schema *schema,
                   const ent_store_opts *opts)
{
    ent_store_opts def = ENT_STORE_OPTS_INIT;
    ent_store *s = NULL;
    ent_backend_opts bo;
    ent_txn t;
    ent_schema *stored = NULL, *next = NULL;
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
    s = calloc(1, sizeof *s);
    if (!s) return ent__err(ENT_NOMEM, "out of memory");
    s->ops = backend_by_name(opts->backend);
    if (!s->ops) {
        free(s);
        return ent__err(ENT_INVALID, "unknown backend \"%s\" (lmdb, memory)", opts->backend);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->notify_mu, NULL);
    pthread_cond_init(&s->delivered, NULL);
    s->fork_gen = ent__fork_gen();
    s->read_only = opts->read_only;
    s->path = strdup(path ? path : "");
    if (!s->path) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    memset(&bo, 0, sizeof bo);
    bo.read_only = opts->read_only;
    bo.durability = opts->durability == ENT_DURABILITY_STORED ? ENT_DURABLE : opts->durability;
    bo.map_size = opts->map_size;
    /* Opening an existing store creates nothing: no directory, no backend files. */
    bo.must_exist = opts->read_only || opts->no_create || !schema;
    if ((rc = s->ops->open(&s->be, s->path, &bo))) goto fail;

    if ((rc = raw_begin(&t, s, !opts->read_only))) goto fail;
    txn_open = 1;
    rc = s->ops->table(s->be, t.bt, "meta", opts->read_only ? 0 : ENT_TBL_CREATE, &s->t_meta);
    if (rc == ENT_NOTFOUND) {
        rc = ent__err(ENT_NOTFOUND, "no libentity store at %s", path);
        goto fail;
    }
    if (rc) goto fail;
    rc = meta_get(&v, &t, "format");
    if (rc == ENT_NOTFOUND) {
        if (!schema || opts->read_only || opts->no_create) {
            rc = ent__err(ENT_NOTFOUND, "no libentity store at %s%s", path,
                          schema ? "" : " (a schema is needed to create one)");
            goto fail;
        }
        durability = opts->durability == ENT_DURABILITY_STORED ? ENT_DURABLE : opts->durability;
        if ((rc = store_init(&t, schema, durability))) goto fail;
        if ((rc = schema_copy(&next, schema))) goto fail;
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
        if (meta_get(&v, &t, "durability") == ENT_OK && v.len == 1 && *(const uint8_t *)v.data <= ENT_NONE)
            dur = *(const uint8_t *)v.data;
        durability = opts->durability == ENT_DURABILITY_STORED ? dur : opts->durability;
        if ((rc = ent__meta_get_u64(&gen, &t, "schema_gen"))) {
            if (rc == ENT_NOTFOUND) rc = ent__err(ENT_CORRUPT, "%s: store meta lacks schema_gen", path);
            goto fail;
        }
        if ((rc = schema_from_meta(&stored, &t, "schema"))) goto fail;
        if (schema) {
            int same = 0;
            if ((rc = schemas_equal(stored, schema, &same))) goto fail;
            if (!same) {
                if (strcmp(schema->name, stored->name) != 0) {
                    rc = ent__err(ENT_SCHEMA, "the store holds schema %s, not %s", stored->name, schema->name);
                    goto fail;
                }
                if (schema->version <= stored->version) {
                    rc = ent__err(ENT_SCHEMA,
                                  "schema %s version %" PRIu32 " differs from the stored version %" PRIu32
                                  "; an evolution needs a higher version",
                                  schema->name, schema->version, stored->version);
                    goto fail;
                }
                if ((rc = check_history(&t, stored, schema))) goto fail;
                if (opts->read_only) {
                    rc = ent__err(ENT_READONLY, "%s: cannot evolve the schema of a store opened read-only", path);
                    goto fail;
                }
                if ((rc = schema_copy(&next, schema))) goto fail;
                evolving = 1;
                gen++;
                if ((rc = schema_store(&t, next, gen))) goto fail;
            }
        }
        if (!next) {
            next = stored;
            stored = NULL;
        }
    }
    if ((rc = layout_open(&s->lay, s, t.bt, next, gen, !opts->read_only))) goto fail;
    next = NULL;
    t.lay = s->lay;
    if (evolving && (rc = evolve(&t, stored, s->lay->schema))) goto fail;
    if ((rc = s->ops->table(s->be, t.bt, "log", opts->read_only ? 0 : ENT_TBL_CREATE, &s->t_log)) ||
        (rc = s->ops->table(s->be, t.bt, "subs", opts->read_only ? 0 : ENT_TBL_CREATE, &s->t_subs)))
        goto fail;
    txn_open = 0;
    if ((rc = s->ops->txn_commit(t.bt))) goto fail_notxn;
    raw_end(&t);
    s->durability = (ent_durability)durability;
    if (!opts->read_only && durability != bo.durability && s->ops->set_durability &&
        (rc = s->ops->set_durability(s->be, durability)))
        goto fail_notxn;
    ent_schema_free(stored);
    (void)created;
    s->alias = schema;
    s->alias_gen = gen;
    *out = s;
    return ENT_OK;
fail:
    if (txn_open) s->ops->txn_abort(t.bt);
    raw_end(&t);
fail_notxn:
    ent_schema_free(stored);
    ent_schema_free(next);
    store_free(s);
    return rc;
}

void ent__store_free_cbs(ent_store *s);

void ent_store_set_progress(ent_store *s, ent_progress_cb cb, void *payload)
{
    if (!s) return;
    s->progress = cb;
    s->progress_payload = payload;
}

void ent_store_close(ent_store *s)
{
    if (!s) return;
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

const char *ent_store_backend(const ent_store *s) { return s->ops->name; }
ent_durability ent_store_durability(const ent_store *s) { return s->durability; }

int ent__store_check(ent_store *s)
{
    if (!s) return ent__err(ENT_INVALID, "store is NULL");
    if (ent__fork_gen() != s->fork_gen)
        return ent__err(ENT_BUSY, "store %s was opened before fork(); open it again in this process",
                        s->path);
    return ENT_OK;
}

/* Called with a fresh backend txn whose meta says schema generation `gen` != the layout's: load
 * the stored schema and its tables in that txn, and make it the store's current layout. */
int ent__store_reload(ent_store *s, ent_txn *t, uint64_t gen);
int ent__store_reload(ent_store *s, ent_txn *t, uint64_t gen)
{
    ent_schema *sc = NULL;
    ent_layout *l = NULL;
    int rc = schema_from_meta(&sc, t, "schema");
    if (rc) return rc;
    if ((rc = layout_open(&l, s, t->bt, sc, gen, 0))) {
        ent_schema_free(sc);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    if (s->lay->gen == gen) {
        /* Another thread reloaded first; keep its layout. */
        pthread_mutex_unlock(&s->mu);
        l->older = NULL;
        layout_free(l);
        return ENT_OK;
    }
    l->older = s->lay;
    s->lay = l;
    pthread_mutex_unlock(&s->mu);
    return ENT_OK;
}

int ent_store_get_info(ent_store_info *out, ent_store *s)
{
    ent_backend_info bi;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_store_get_info: out is NULL");
    memset(out, 0, sizeof *out);
    if ((rc = ent__store_check(s))) return rc;
    if ((rc = s->ops->info(s->be, &bi))) return rc;
    out->map_size = bi.map_size;
    out->used_bytes = bi.used_bytes;
    out->disk_bytes = bi.disk_bytes;
    return ENT_OK;
}

int ent_store_copy(ent_store *s, const char *dest, int compact)
{
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (!dest || !*dest) return ent__err(ENT_INVALID, "copy: no destination");
    return s->ops->copy(s->be, dest, compact);
}
