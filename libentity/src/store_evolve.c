/* Schema evolution at open: a new schema is checked against the versions the store has had,
 * then new indexes are built over the stored entities and dropped ones emptied. Uses the layout
 * (store_layout.c) and the meta table (store_meta.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk.h"
#include "error_int.h"
#include "keys.h"
#include "store_int.h"

/* Build index j of type `type` over its existing entities (a new index after an evolution), or
 * every index of the type when j is ENT__INDEX_ALL (the end of a replay): one pass over the
 * records, each decoded once for all the indexes it feeds. */
int ent__index_build(ent_txn *t, const ent_type *type, size_t j)
{
    ent_store *s = t->s;
    unsigned dt = t->lay->data[type->pos];
    size_t lo = j == ENT__INDEX_ALL ? 0 : j, hi = j == ENT__INDEX_ALL ? type->n_indexes : j + 1;
    ent_bcur *cur = NULL;
    ent_buf pkb = {0};
    ent_slice k, v;
    int rc, op = ENT_CUR_FIRST;
    if (lo >= hi) return ENT_OK;
    if ((rc = ent__bk_cursor_open(t, dt, &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        ent_entity *e = NULL;
        ent_slice pk;
        rc = ent__bk_cursor_get(s, cur, op, &k, &v);
        if (rc == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        if ((rc = ent__record_read(&e, type, v.data, v.len))) {
            /* Named: an evolution (or a replay's end) said only "corrupt record", not which. */
            if (rc == ENT_CORRUPT) {
                ent_key key;
                char kb[300];
                if (ent__pk_decode(&key, type->key, k.data, k.len)) key = ent_key_str("?");
                ent__err_prefix(rc, "building the index%s of %s%s%s: %s %s: ", j == ENT__INDEX_ALL ? "es" : "",
                                type->name, j == ENT__INDEX_ALL ? "" : ".", j == ENT__INDEX_ALL ? "" : type->indexes[j]->name,
                                type->name, ent__key_str(&key, kb, sizeof kb));
            }
            break;
        }
        /* The key copied: a growth of the map in a put leaves the slice the cursor gave dangling,
         * and the next index of the record needs it still. */
        pkb.n = 0;
        if ((rc = ent__buf_append(&pkb, k.data, k.len))) {
            ent_entity_free(e);
            break;
        }
        pk.data = pkb.p;
        pk.len = pkb.n;
        for (size_t x = lo; !rc && x < hi; x++) {
            const ent_field *f = type->indexes[x];
            const ent_val *val = &e->slots[f->pos];
            ent_slice ik;
            if (val->k == EV_UNSET) continue;
            t->k2.n = 0;
            rc = ent__ikey_from_val(&t->k2, f, val);
            if (!rc && (rc = ent__bk_ikey_check(&s->bk, f, t->k2.n))) {
                /* Named: the message gave the field only, not which entity holds the value to fix. */
                ent_key key;
                char kb[300];
                if (ent__pk_decode(&key, type->key, pk.data, pk.len)) key = ent_key_str("?");
                ent__err_prefix(rc, "building the index of %s.%s: %s %s: ", type->name, f->name, type->name,
                                ent__key_str(&key, kb, sizeof kb));
            }
            if (rc) break;
            ik.data = t->k2.p;
            ik.len = t->k2.n;
            rc = ent__bk_put(t, t->lay->idx[type->pos][x], &ik, &pk, f->unique ? ENT_PUT_NOOVERWRITE : 0);
            if (rc == ENT_CONFLICT) {
                /* Name the value and both entities: the one that holds it is what to fix. */
                ent_key key, other;
                ent_slice held;
                char kb[300], ob[300], vb[160], hb[200] = "";
                if (ent__pk_decode(&key, type->key, pk.data, pk.len)) key = ent_key_str("?");
                ent__val_str(val, vb, sizeof vb);
                if (ent__bk_get(t, t->lay->idx[type->pos][x], &ik, &held) ||
                    ent__pk_decode(&other, type->key, held.data, held.len))
                    other = ent_key_str("?");
                else
                    ent__held_as(hb, sizeof hb, t, type, f, &held, vb);
                rc = ent__err(ENT_CONFLICT, "cannot build unique index %s.%s: value %s of %s %s is taken by %s %s%s",
                              type->name, f->name, vb, type->name, ent__key_str(&key, kb, sizeof kb), type->name,
                              ent__key_str(&other, ob, sizeof ob), hb);
            }
        }
        ent_entity_free(e);
        if (rc) break;
    }
    ent__bk_cursor_close(s, cur);
    free(pkb.p);
    return rc;
}

static int same_default(const ent_field *a, const ent_field *b)
{
    if (!a->def || !b->def) return !a->def && !b->def;
    return ent__val_equal(a->def, b->def);
}

/* Apply a compatible evolution from `prev` to `next` (both sealed) in write txn t whose layout
 * already points at `next`: build indexes that are new, clear indexes that were dropped. */
int ent__store_evolve(ent_txn *t, const ent_schema *prev, const ent_schema *next)
{
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
            if ((rc = ent__bk_clear(t, t->lay->idx[i][j]))) return rc;
            if ((rc = ent__index_build(t, nt, j))) return rc;
        }
        if (pt) {
            /* Dropped indexes: empty their tables so a later re-creation starts clean. */
            for (size_t j = 0; j < pt->n_indexes; j++) {
                const ent_field *pf = pt->indexes[j];
                const ent_field *nf = ent_type_field(nt, pf->name);
                char name[160];
                unsigned tbl;
                if (nf && nf->index_no >= 0 && nf->unique == pf->unique) continue;
                ent__table_name(name, sizeof name, pf->unique ? 'u' : 'x', pt, pf);
                rc = ent__bk_table(t, name, pf->unique ? 0 : ENT_TBL_DUPSORT, &tbl);
                if (rc == ENT_NOTFOUND) continue;
                if (rc || (rc = ent__bk_clear(t, tbl))) return rc;
            }
        }
    }
    return ENT_OK;
}

/* ---- the check against the schema's history ------------------------------------------------
 *
 * `next` must be a compatible evolution of every version the store has had, not only of the
 * current one: comparing with each stored version catches an id reused after its field was
 * removed, with another name or the same one. Loading every stored version at each evolution
 * made the n-th one cost n loads (100 evolutions of the shop schema: 6.2 G instructions, 87 % of
 * it in that loop). Most versions cannot fail that comparison: a version whose every field the
 * current one still has (ent__schema_subset) and that the current one passed, passes whatever
 * the current one passes. So meta "schema_check" keeps, for the current version, the stored
 * versions that can fail (those holding a field removed since, the first of those holding it
 * alike, or that the current one does not pass): an evolution compares with those alone, in the
 * same order and with the same messages, and loads the others only when it removes a field. A
 * list left by a library without it, or for another version (a store evolved by one), is made
 * again from every stored version, once. Value: 8 bytes of the version it is for, 8 bytes per listed version. */

#define CHECK_KEY "schema_check"

_Thread_local unsigned long ent__history_loads;

static int vers_add(ent__vers *l, uint32_t ver)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        uint32_t *p = realloc(l->v, cap * sizeof *p);
        if (!p) return ent__err(ENT_NOMEM, "out of memory");
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = ver;
    return ENT_OK;
}

void ent__vers_free(ent__vers *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Stored version ver: ENT_OK with *out, ENT_NOTFOUND when absent or not loadable (the check has
 * always passed over those), ENT_NOMEM. */
static int load_version(ent_schema **out, ent_txn *t, uint32_t ver)
{
    char key[64];
    ent_slice v;
    int rc;
    *out = NULL;
    snprintf(key, sizeof key, "schema_v/%" PRIu32, ver);
    if (ent__meta_get(&v, t, key) != ENT_OK) return ENT_NOTFOUND;
    ent__history_loads++;
    if ((rc = ent_schema_load_json(out, v.data, v.len, "<store>")) == ENT_NOMEM) return rc;
    return rc ? ENT_NOTFOUND : ENT_OK;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The stored versions below `below`, ascending, from the meta table's "schema_v/<n>" keys: a walk
 * over the keys, not a look-up per number (versions may skip numbers, up to 2^32-1). */
int ent__schema_stored_below(ent__vers *out, ent_txn *t, uint64_t below)
{
    static const char pre[] = "schema_v/";
    ent_bcur *c = NULL;
    ent_slice k = {pre, sizeof pre - 1}, v;
    int rc, op = ENT_CUR_SEEK;
    memset(out, 0, sizeof *out);
    if ((rc = ent__bk_cursor_open(t, t->s->t_meta, &c))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        const char *d;
        uint64_t ver = 0;
        size_t i;
        if ((rc = ent__bk_cursor_get(t->s, c, op, &k, &v)) == ENT_NOTFOUND) {
            rc = ENT_OK;
            break;
        }
        if (rc) break;
        d = k.data;
        if (k.len < sizeof pre - 1 || memcmp(d, pre, sizeof pre - 1)) break;
        for (i = sizeof pre - 1; i < k.len && d[i] >= '0' && d[i] <= '9' && ver <= UINT32_MAX; i++) ver = ver * 10 + (uint64_t)(d[i] - '0');
        /* as load_version() names them: "%" PRIu32 */
        if (i != k.len || i == sizeof pre - 1 || (d[sizeof pre - 1] == '0') || ver >= below) continue;
        if ((rc = vers_add(out, (uint32_t)ver))) break;
    }
    ent__bk_cursor_close(t->s, c);
    if (rc) ent__vers_free(out);
    else if (out->n) qsort(out->v, out->n, sizeof *out->v, u32_cmp);
    return rc;
}

/* The stored versions 1..maxver that a check of a successor of `target` must compare with: those
 * that fail ent_schema_compare(v, target), and those holding a field target lacks, but not when
 * an earlier one listed holds each such field alike (it fails first whenever they would:
 * ent__schema_retired_within). Loads each of them once. */
static int build_list(ent__vers *out, ent_txn *t, const ent_schema *target, uint32_t maxver)
{
    ent_schema **held = NULL; /* listed versions that pass against target, for the test above */
    ent__vers all;
    size_t nh = 0;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = ent__schema_stored_below(&all, t, (uint64_t)maxver + 1))) return rc;
    for (size_t j = 0; j < all.n; j++) {
        ent_schema *old = NULL, **p;
        uint32_t ver = all.v[j];
        int list = 1, hold = 0;
        if ((rc = load_version(&old, t, ver)) == ENT_NOTFOUND) { /* not loadable: passed over, as always */
            rc = ENT_OK;
            continue;
        }
        if (rc) break;
        if (ent_schema_compare(old, target) == ENT_OK) {
            list = !ent__schema_subset(old, target);
            for (size_t i = 0; list && i < nh; i++) list = !ent__schema_retired_within(old, held[i], target);
            hold = list;
        }
        if (list && (rc = vers_add(out, ver))) {
            ent_schema_free(old);
            break;
        }
        if (hold && (p = realloc(held, (nh + 1) * sizeof *held)) != NULL) {
            held = p;
            held[nh++] = old;
            old = NULL;
        } else if (hold) { /* without room to compare with it, later versions are listed */
            rc = ent__err(ENT_NOMEM, "out of memory");
            ent_schema_free(old);
            break;
        }
        ent_schema_free(old);
    }
    while (nh) ent_schema_free(held[--nh]);
    free(held);
    ent__vers_free(&all);
    if (rc) ent__vers_free(out);
    return rc;
}

/* The list for `cur` from meta; made again from every stored version when missing, damaged or
 * for another version. */
static int check_list(ent__vers *out, ent_txn *t, const ent_schema *cur)
{
    ent_slice v;
    int rc;
    memset(out, 0, sizeof *out);
    if (ent__meta_get(&v, t, CHECK_KEY) == ENT_OK && v.len >= 8 && v.len % 8 == 0 &&
        ent__dec_u64(v.data) == cur->version) {
        const uint8_t *p = v.data;
        int ok = 1;
        for (size_t i = 8; ok && i < v.len; i += 8) {
            uint64_t ver = ent__dec_u64(p + i);
            ok = ver < cur->version && (!out->n || ver > out->v[out->n - 1]);
            if (ok && (rc = vers_add(out, (uint32_t)ver))) return rc;
        }
        if (ok) return ENT_OK;
        ent__vers_free(out);
    }
    return build_list(out, t, cur, cur->version - 1);
}

int ent__schema_check_history(ent_txn *t, const ent_schema *cur, const ent_schema *next, ent__vers *keep)
{
    ent__vers l = {0};
    int rc = ent_schema_compare(cur, next);
    memset(keep, 0, sizeof *keep);
    if (rc) return rc;
    if ((rc = check_list(&l, t, cur))) return rc;
    for (size_t i = 0; i < l.n; i++) {
        ent_schema *old = NULL;
        uint32_t ver = l.v[i];
        if ((rc = load_version(&old, t, ver)) == ENT_NOTFOUND) continue;
        if (rc) goto out;
        rc = ent_schema_compare(old, next);
        if (!rc) rc = ent__schema_check_readded(old, cur, next);
        ent_schema_free(old);
        if (rc) {
            rc = ent__err_prefix(rc, "against stored version %" PRIu32 ": ", ver);
            goto out;
        }
    }
    /* The list for next. When next keeps every field of cur, it is cur's: a version off it
     * has no field next lacks or holds them as a listed one does, and cur has none. When next
     * removes a field, it is made again from every stored version, cur's included. */
    if (ent__schema_subset(cur, next)) {
        *keep = l;
        return ENT_OK;
    }
    rc = build_list(keep, t, next, cur->version);
out:
    ent__vers_free(&l);
    return rc;
}

int ent__schema_check_verify(uint32_t *out, ent_txn *t, const ent_schema *cur)
{
    ent__vers all = {0};
    ent__vers l = {0};
    ent_schema **held = NULL; /* the listed versions that pass against cur, ascending */
    size_t nh = 0, at = 0;
    ent_slice v;
    int rc = ENT_OK;
    *out = 0;
    /* Only a list an evolution would use: one for another version, or malformed, is made again
     * (check_list) and can skip nothing. */
    if (ent__meta_get(&v, t, CHECK_KEY) != ENT_OK || v.len < 8 || v.len % 8 || ent__dec_u64(v.data) != cur->version)
        return ENT_OK;
    for (size_t i = 8; i < v.len; i += 8) {
        uint64_t ver = ent__dec_u64((const uint8_t *)v.data + i);
        if (ver >= cur->version || (l.n && ver <= l.v[l.n - 1])) {
            ent__vers_free(&l);
            return ENT_OK;
        }
        if ((rc = vers_add(&l, (uint32_t)ver))) return rc;
    }
    if ((rc = ent__schema_stored_below(&all, t, cur->version))) {
        ent__vers_free(&l);
        return rc;
    }
    /* A version left off must be one that cannot fail where a listed one does not fail first
     * (build_list): one of cur's fields alike, or whose retired fields an earlier listed version
     * that cur passes holds alike. */
    for (size_t j = 0; j < all.n && !*out; j++) {
        ent_schema *old = NULL, **p;
        uint32_t ver = all.v[j];
        int listed, ok;
        while (at < l.n && l.v[at] < ver) at++; /* listed numbers with no stored version */
        listed = at < l.n && l.v[at] == ver;
        if ((rc = load_version(&old, t, ver)) == ENT_NOTFOUND) {
            rc = ENT_OK;
            continue;
        }
        if (rc) break;
        ok = ent_schema_compare(old, cur) == ENT_OK;
        if (listed) {
            at++;
            if (ok && (p = realloc(held, (nh + 1) * sizeof *held)) != NULL) {
                held = p;
                held[nh++] = old;
                old = NULL;
            } else if (ok) {
                rc = ent__err(ENT_NOMEM, "out of memory");
            }
        } else {
            int covered = ok && ent__schema_subset(old, cur);
            for (size_t i = 0; !covered && i < nh; i++) covered = ent__schema_retired_within(old, held[i], cur);
            if (!covered) *out = ver;
        }
        ent_schema_free(old);
        if (rc) break;
    }
    while (nh) ent_schema_free(held[--nh]);
    free(held);
    ent__vers_free(&all);
    ent__vers_free(&l);
    return rc;
}

int ent__schema_check_put(ent_txn *t, uint32_t version, const ent__vers *keep)
{
    uint8_t *buf = malloc(8 * (keep->n + 1));
    int rc;
    if (!buf) return ent__err(ENT_NOMEM, "out of memory");
    ent__enc_u64(buf, version);
    for (size_t i = 0; i < keep->n; i++) ent__enc_u64(buf + 8 * (i + 1), keep->v[i]);
    rc = ent__meta_put(t, CHECK_KEY, buf, 8 * (keep->n + 1));
    free(buf);
    return rc;
}

int ent__schema_copy(ent_schema **out, const ent_schema *sc)
{
    char *json = NULL;
    int rc = ent_schema_to_json(&json, sc, 0);
    if (rc) return rc;
    rc = ent_schema_load_json(out, json, strlen(json), "<schema>");
    free(json);
    if (!rc) (*out)->from_store = sc->from_store;
    return rc;
}

int ent__schemas_equal(const ent_schema *a, const ent_schema *b, int *out)
{
    char *ja = NULL, *jb = NULL;
    int rc = ent_schema_to_json(&ja, a, 0);
    if (!rc) rc = ent_schema_to_json(&jb, b, 0);
    if (!rc) *out = strcmp(ja, jb) == 0;
    free(ja);
    free(jb);
    return rc;
}
