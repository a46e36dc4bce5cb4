/* soak_driver: a steady workload for the long soak (tests/soak/soak.sh) and its short CI runs.
 *
 *   soak_driver write DIR SECONDS THREADS LIVE SEED   bounded live set: THREADS threads upsert,
 *       update, replace and delete items k0..k(LIVE-1) for SECONDS, then print the op counts
 *   soak_driver hold DIR                             open DIR, begin a read transaction and an
 *       iterator, print "held" and sleep until killed (an LMDB reader that pins old pages)
 *
 * Bodies vary from 0 to 3 000 bytes so that some items take overflow pages, whose freeing and
 * reuse is what a long run of rewrites exercises. */
#define _POSIX_C_SOURCE 200809L
#include <entity/entity.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ent_store *g_store;
static const ent_type *g_item;
static double g_end;
static unsigned g_live;
static unsigned g_seed;

struct counts {
    unsigned long upsert, update, replace, del, busy, conflict, notfound, other;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64*: each thread its own stream, so runs are cheap and need no lock */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void tally(struct counts *c, int rc)
{
    if (rc == ENT_OK)
        return;
    if (rc == ENT_BUSY)
        c->busy++;
    else if (rc == ENT_CONFLICT)
        c->conflict++;
    else if (rc == ENT_NOTFOUND)
        c->notfound++;
    else {
        c->other++;
        if (c->other < 5)
            fprintf(stderr, "soak_driver: %s: %s\n", ent_strerror(rc), ent_errmsg());
    }
}

static void *writer(void *arg)
{
    struct counts *c = arg;
    uint64_t rs = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)g_seed << 20) ^ (uint64_t)(uintptr_t)arg;
    static const char fill[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char body[3001];
    char key[32];
    while (now_s() < g_end) {
        uint64_t r = next_rand(&rs);
        snprintf(key, sizeof key, "k%u", (unsigned)(r % g_live));
        size_t blen = (size_t)((r >> 20) % 3000);
        for (size_t i = 0; i < blen; i++)
            body[i] = fill[(i + (r >> 8)) % (sizeof fill - 1)];
        body[blen] = '\0';
        unsigned op = (unsigned)((r >> 40) % 10);
        ent_key k = ent_key_str(key);
        int rc;
        if (op < 4) { /* upsert: create or replace whole */
            ent_entity *e;
            ent_entity_new(&e, g_item);
            ent_entity_set_key(e, &k);
            ent_entity_set_int(e, "n", (int64_t)(r % 1000));
            ent_entity_set_string(e, "tag", (r & 1) ? "odd" : "even");
            ent_entity_set_string(e, "body", body);
            ent_entity_set_uint(e, "who", g_seed);
            rc = ent_upsert(g_store, NULL, e, ENT_VERSION_ANY);
            ent_entity_free(e);
            c->upsert++;
        } else if (op < 7) { /* partial update of one field */
            ent_entity *e;
            ent_entity_new(&e, g_item);
            ent_entity_set_key(e, &k);
            ent_entity_set_int(e, "n", (int64_t)(r >> 3));
            rc = ent_update(g_store, NULL, e, ENT_VERSION_ANY);
            ent_entity_free(e);
            c->update++;
        } else if (op < 8) { /* replace: unsets the fields not given */
            ent_entity *e;
            ent_entity_new(&e, g_item);
            ent_entity_set_key(e, &k);
            ent_entity_set_string(e, "body", body);
            rc = ent_replace(g_store, NULL, e, ENT_VERSION_ANY);
            ent_entity_free(e);
            c->replace++;
        } else {
            rc = ent_delete(g_store, NULL, g_item, &k, ENT_VERSION_ANY);
            c->del++;
        }
        tally(c, rc);
    }
    return NULL;
}

static int open_store(const char *dir)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_store_open(&g_store, dir, NULL, &o);
    if (rc != ENT_OK) {
        fprintf(stderr, "soak_driver: open %s: %s\n", dir, ent_errmsg());
        return 1;
    }
    g_item = ent_store_type(g_store, "item");
    if (!g_item) {
        fprintf(stderr, "soak_driver: %s has no type item (init it with tests/soak/soak.json)\n", dir);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hold") == 0) {
        if (open_store(argv[2]))
            return 1;
        ent_txn *t;
        ent_iter *it;
        ent_entity *e;
        if (ent_txn_begin(&t, g_store, ENT_TXN_READ) != ENT_OK ||
            ent_scan(&it, g_store, t, g_item, NULL, NULL) != ENT_OK) {
            fprintf(stderr, "soak_driver: hold: %s\n", ent_errmsg());
            return 1;
        }
        if (ent_iter_next(&e, it) == ENT_OK)
            ent_entity_free(e);
        printf("held\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc != 7 || strcmp(argv[1], "write") != 0) {
        fprintf(stderr, "usage: soak_driver write DIR SECONDS THREADS LIVE SEED | soak_driver hold DIR\n");
        return 2;
    }
    int threads = atoi(argv[4]);
    g_live = (unsigned)atoi(argv[5]);
    g_seed = (unsigned)atoi(argv[6]);
    if (threads < 1 || threads > 64 || g_live < 1) {
        fprintf(stderr, "soak_driver: THREADS 1..64, LIVE >= 1\n");
        return 2;
    }
    if (open_store(argv[2]))
        return 1;
    g_end = now_s() + atof(argv[3]);
    pthread_t tid[64];
    struct counts c[64];
    memset(c, 0, sizeof c);
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, writer, &c[i]);
    struct counts sum = {0};
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sum.upsert += c[i].upsert;
        sum.update += c[i].update;
        sum.replace += c[i].replace;
        sum.del += c[i].del;
        sum.busy += c[i].busy;
        sum.conflict += c[i].conflict;
        sum.notfound += c[i].notfound;
        sum.other += c[i].other;
    }
    ent_store_close(g_store);
    printf("upsert %lu update %lu replace %lu delete %lu busy %lu conflict %lu notfound %lu other %lu\n",
           sum.upsert, sum.update, sum.replace, sum.del, sum.busy, sum.conflict, sum.notfound, sum.other);
    return sum.other ? 1 : 0;
}
