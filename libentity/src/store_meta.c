/* The store's meta table: named values (counters, the format, the stored schema and its versions,
 * the schema generation) read and written in a transaction. Used by every file of the store;
 * uses none of them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "keys.h"
#include "store_int.h"

int ent__meta_get(ent_slice *out, ent_txn *t, const char *key)
{
    ent_slice k = {key, strlen(key)};
    return ent__bk_get(t, t->s->t_meta, &k, out);
}

int ent__meta_put(ent_txn *t, const char *key, const void *v, size_t n)
{
    ent_slice k = {key, strlen(key)}, val = {v, n};
    t->meta_other = 1; /* commit_write() clears it for its own flushes (txn.c) */
    return ent__bk_put(t, t->s->t_meta, &k, &val, 0);
}

int ent__meta_del(ent_txn *t, const char *key)
{
    ent_slice k = {key, strlen(key)};
    t->meta_other = 1;
    return ent__bk_del(t, t->s->t_meta, &k, NULL);
}

int ent__meta_get_u64(uint64_t *out, ent_txn *t, const char *key)
{
    ent_slice v;
    int rc = ent__meta_get(&v, t, key);
    if (rc) return rc;
    if (v.len != 8) return ent__err(ENT_CORRUPT, "store meta \"%s\": %zu bytes, expected 8", key, v.len);
    *out = ent__dec_u64(v.data);
    return ENT_OK;
}

int ent__meta_put_u64(ent_txn *t, const char *key, uint64_t v)
{
    uint8_t b[8];
    ent__enc_u64(b, v);
    return ent__meta_put(t, key, b, 8);
}

int ent__meta_get_pair(uint64_t *a, uint64_t *b, ent_txn *t, const char *key)
{
    ent_slice v;
    int rc = ent__meta_get(&v, t, key);
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
    return ent__meta_put(t, key, buf, 16);
}

int ent__schema_from_meta(ent_schema **out, ent_txn *t, const char *key)
{
    ent_slice v;
    int rc = ent__meta_get(&v, t, key);
    if (rc == ENT_NOTFOUND) return ent__err(ENT_CORRUPT, "store meta has no \"%s\"", key);
    if (rc) return rc;
    rc = ent_schema_load_json(out, v.data, v.len, "<store>");
    if (rc == ENT_SCHEMA) return ent__err_prefix(ENT_CORRUPT, "stored schema does not load: ");
    if (!rc) (*out)->from_store = 1; /* made under the rules of its day (ent__schema_check_new) */
    return rc;
}

int ent__schema_copy_check(ent_txn *t, uint32_t version)
{
    ent_slice cur, copy;
    char key[64];
    int rc = ent__meta_get(&cur, t, "schema");
    if (rc == ENT_NOTFOUND) return ent__err(ENT_CORRUPT, "store meta has no \"schema\"");
    if (rc) return rc;
    snprintf(key, sizeof key, "schema_v/%" PRIu32, version);
    rc = ent__meta_get(&copy, t, key);
    if (rc == ENT_NOTFOUND)
        return ent__err(ENT_CORRUPT, "store meta lacks \"%s\", the copy of its schema (version %" PRIu32 "): the "
                        "meta is damaged (writable opens are refused; read-only ones read by the stored schema)",
                        key, version);
    if (rc) return rc;
    if (copy.len != cur.len || memcmp(copy.data, cur.data, cur.len) != 0)
        return ent__err(ENT_CORRUPT, "the store's schema differs from its copy \"%s\" (%zu and %zu bytes): one of "
                        "them is damaged (writable opens are refused; read-only ones read by the stored schema)",
                        key, cur.len, copy.len);
    return ENT_OK;
}

int ent__schema_store(ent_txn *t, const ent_schema *sc, uint64_t gen)
{
    char *json = NULL, key[64];
    int rc = ent_schema_to_json(&json, sc, 0);
    if (rc) return rc;
    snprintf(key, sizeof key, "schema_v/%" PRIu32, sc->version);
    if (!(rc = ent__meta_put(t, "schema", json, strlen(json))) &&
        !(rc = ent__meta_put(t, key, json, strlen(json))))
        rc = ent__meta_put_u64(t, "schema_gen", gen);
    free(json);
    return rc;
}
