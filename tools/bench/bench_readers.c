/* entity bench: one writer beside scanning readers. The writer does single-call updates while
 * `readers` threads scan every product in read transactions, over and over; the figure is the
 * writer's updates per second. Readers see snapshots, so on an MVCC store they should cost the
 * writer CPU time on a shared machine, not turns at a lock. */
#include <entity/entity.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define SCAN_ENTITIES 2000

typedef struct reader_ctx {
    ent_store *s;
    const ent_type *t;
    atomic_int *stop;
    uint64_t scans;
    int rc;
} reader_ctx;

static void *reader_main(void *p)
{
    reader_ctx *r = p;
    while (!atomic_load(r->stop) && !r->rc) {
        ent_txn *t = NULL;
        ent_iter *it = NULL;
        ent_entity *e;
        if ((r->rc = ent_txn_begin(&t, r->s, ENT_TXN_READ))) break;
        if ((r->rc = ent_scan(&it, r->s, t, r->t, NULL, NULL))) {
            ent_txn_abort(t);
            break;
        }
        while (ent_iter_next(&e, it) == ENT_OK) ent_entity_free(e);
        ent_iter_free(it);
        ent_txn_abort(t);
        r->scans++;
    }
    return NULL;
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int ent_bench_writer_with_readers(double *out_ups, const char *backend, const char *dir, const char *schema_json,
                                  int readers, uint64_t updates)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    const ent_type *t;
    ent_txn *w = NULL;
    pthread_t th[8];
    reader_ctx rc_[8];
    atomic_int stop;
    int started = 0, rc;
    double t0, t1;
    atomic_init(&stop, 0);
    *out_ups = 0;
    if (readers > 8) readers = 8;
    o.backend = backend;
    o.durability = ENT_NONE;
    o.map_size = (size_t)256 << 20;
    if ((rc = ent_schema_load_json(&sc, schema_json, strlen(schema_json), "bench")) ||
        (rc = ent_store_open(&s, dir, sc, &o)))
        goto out;
    t = ent_store_type(s, "product");
    if ((rc = ent_txn_begin(&w, s, ENT_TXN_WRITE))) goto out;
    for (int i = 0; i < SCAN_ENTITIES; i++) {
        ent_entity *p = NULL;
        char k[32], ean[32];
        ent_key key;
        snprintf(k, sizeof k, "sku-%08d", i);
        snprintf(ean, sizeof ean, "40%011d", i);
        key = ent_key_str(k);
        if ((rc = ent_entity_new(&p, t))) goto out;
        ent_entity_set_key(p, &key);
        ent_entity_set_string(p, "ean", ean);
        ent_entity_set_string(p, "name", "Organic green tea, loose leaf");
        ent_entity_set_float(p, "price", (double)(i % 1000) * 0.25);
        ent_entity_set_int(p, "stock", i % 500);
        rc = ent_create(s, w, p);
        ent_entity_free(p);
        if (rc) goto out;
    }
    rc = ent_txn_commit(w);
    w = NULL;
    if (rc) goto out;
    for (; started < readers; started++) {
        rc_[started] = (reader_ctx){s, t, &stop, 0, 0};
        if (pthread_create(&th[started], NULL, reader_main, &rc_[started])) {
            rc = ENT_NOMEM;
            goto out;
        }
    }
    t0 = mono_s();
    for (uint64_t i = 0; i < updates; i++) {
        ent_entity *p = NULL;
        char k[32];
        ent_key key;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)(i % SCAN_ENTITIES));
        key = ent_key_str(k);
        if ((rc = ent_entity_new(&p, t))) goto out;
        ent_entity_set_key(p, &key);
        ent_entity_set_int(p, "stock", (int64_t)(1000 + i));
        rc = ent_update(s, NULL, p, ENT_VERSION_ANY);
        ent_entity_free(p);
        if (rc) goto out;
    }
    t1 = mono_s();
    *out_ups = (double)updates / (t1 - t0);
out:
    atomic_store(&stop, 1);
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (!rc && rc_[i].rc) rc = rc_[i].rc;
    }
    if (rc) fprintf(stderr, "entity: bench: writer with %d readers (%s): %s: %s\n", readers, backend, ent_strerror(rc), ent_errmsg());
    if (w) ent_txn_abort(w);
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}
