/* The mutation pipeline and point reads:
 *     validate -> check key, refs, unique values -> write record + index entries -> append event
 * Every check that can refuse a call runs before the first write, so a refused call writes
 * nothing. A write that fails after that (disk full, out of memory) marks the transaction failed:
 * it can then only be aborted, and the store stays as it was. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "json_write.h"
#include "keys.h"
#include "rfc3339.h"
#include "store_int.h"

/* Field-position bitsets on the stack for ordinary types; bigger ones are allocated. */
#define MASK_WORDS_STACK 4
typedef struct mask {
    uint64_t *w;
    size_t nw;
    uint64_t stack[MASK_WORDS_STACK];
} mask;

static int mask_init(mask *m, const ent_type *t)
{
    m->nw = (t->n_fields + 63) / 64;
    if (m->nw <= MASK_WORDS_STACK) {
        m->w = m->stack;
        memset(m->stack, 0, sizeof m->stack);
        return ENT_OK;
    }
    m->w = calloc(m->nw, sizeof *m->w);
    return m->w ? ENT_OK : ent__err(ENT_NOMEM, "out of memory");
}
static void mask_free(mask *m)
{
    if (m->w != m->stack) free(m->w);
}
static void mask_set(mask *m, size_t pos) { m->w[pos / 64] |= (uint64_t)1 << (pos % 64); }
static int mask_has(const mask *m, size_t pos) { return (int)((m->w[pos / 64] >> (pos % 64)) & 1); }
static int mask_empty(const mask *m)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i]) return 0;
    return 1;
}

/* A short printable form of a scalar value for conflict messages. */
const char *ent__val_str(const ent_val *v, char *buf, size_t size)
{
    switch (v->k) {
    case EV_BOOL: snprintf(buf, size, "%s", v->u.b ? "true" : "false"); break;
    case EV_INT: snprintf(buf, size, "%" PRId64, v->u.i); break;
    case EV_TS: /* as entity JSON writes it, not as ns since the epoch */
        if (size >= 48) ent__ts_format(buf, v->u.i);
        else snprintf(buf, size, "%" PRId64, v->u.i);
        break;
    case EV_UINT: snprintf(buf, size, "%" PRIu64, v->u.u); break;
    case EV_FLOAT:
        if (size >= 32) ent__json_real(buf, v->u.f); /* as JSON writes it */
        else snprintf(buf, size, "%.17g", v->u.f);
        break;
    case EV_STR: ent__quote(buf, size, v->u.s.p, v->u.s.n, 120); break;
    case EV_BIN: snprintf(buf, size, "(%zu bytes)", v->u.s.n); break;
    default: snprintf(buf, size, "(value)"); break;
    }
    return buf;
}

static ent_key entity_key(const ent_entity *e)
{
    ent_key k;
    memset(&k, 0, sizeof k);
    k.kind = e->key_kind;
    k.id = e->key_id;
    k.str = e->key_str;
    k.len = e->key_len;
    return k;
}

/* Encode e's key into t->k1, checking it fits the type. */
static int pk_of(ent_txn *t, const ent_type *type, const ent_key *key)
{
    char kb[300];
    if (key->kind == ENT_KEY_NONE)
        return ent__err(ENT_INVALID, "%s: the entity has no key", type->name);
    if (key->kind != type->key)
        return ent__err(ENT_INVALID, "%s: key %s is not of the type's key kind (%s)", type->name,
                        ent__key_str(key, kb, sizeof kb), type->key == ENT_KEY_AUTO ? "auto" : "string");
    if (key->kind == ENT_KEY_AUTO && key->id == 0)
        return ent__err(ENT_INVALID, "%s: auto ids start at 1", type->name);
    t->k1.n = 0;
    return ent__pk_encode(&t->k1, key);
}

/* raw: the record as stored, without the defaults of fields it lacks (ent__record_stored()). */
static int load_entity_as(ent_entity **out, ent_txn *t, const ent_type *type, const ent_key *key,
                          const ent_slice *pk, int raw)
{
    ent_slice v;
    char kb[300];
    int rc = ent__bk_get(t, t->lay->data[type->pos], pk, &v);
    if (rc == ENT_NOTFOUND)
        return ent__err(ENT_NOTFOUND, "%s %s not found", type->name, ent__key_str(key, kb, sizeof kb));
    if (rc) return rc;
    rc = raw ? ent__record_stored(out, type, v.data, v.len) : ent__record_read(out, type, v.data, v.len);
    if (rc == ENT_CORRUPT)
        return ent__err_prefix(rc, "%s %s: ", type->name, ent__key_str(key, kb, sizeof kb));
    return rc;
}

static int load_entity(ent_entity **out, ent_txn *t, const ent_type *type, const ent_key *key,
                       const ent_slice *pk)
{
    return load_entity_as(out, t, type, key, pk, 0);
}

static int set_key(ent_entity *e, const ent_key *key)
{
    if (key->kind == ENT_KEY_STRING) {
        char *p = malloc(key->len + 1);
        if (!p) return ent__err(ENT_NOMEM, "out of memory");
        memcpy(p, key->str, key->len);
        p[key->len] = '\0';
        free(e->key_str);
        e->key_str = p;
        e->key_len = key->len;
    } else {
        e->key_id = key->id;
    }
    e->key_kind = key->kind;
    return ENT_OK;
}

static int index_key(ent_txn *t, const ent_field *f, const ent_val *v)
{
    int rc;
    t->k2.n = 0;
    if ((rc = ent__ikey_from_val(&t->k2, f, v))) return rc;
    return ent__bk_ikey_check(&t->s->bk, f, t->k2.n);
}

/* ent_txn_defer_ref_checks(): note the entity of type at pk for the check at commit. */
static int defer(ent_txn *t, const ent_type *type, const ent_slice *pk)
{
    size_t n = strlen(type->name);
    unsigned char head[5];
    uint32_t pl = (uint32_t)pk->len;
    int rc;
    head[0] = (unsigned char)n; /* names are at most ENT_NAME_MAX bytes */
    memcpy(head + 1, &pl, 4);
    if ((rc = ent__buf_append(&t->deferred, head, 1)) || (rc = ent__buf_append(&t->deferred, type->name, n)) ||
        (rc = ent__buf_append(&t->deferred, head + 1, 4)) || (rc = ent__buf_append(&t->deferred, pk->data, pk->len)))
        return rc;
    return ENT_OK;
}

static int check_refs_now(ent_txn *t, const ent_type *type, const ent_entity *e, const mask *m, const ent_slice *pk);

/* Refs in `m` must point at existing entities, or at e itself (pk: e's). */
static int check_refs(ent_txn *t, const ent_type *type, const ent_entity *e, const mask *m, const ent_slice *pk)
{
    if (t->refs_unchecked) return ENT_OK;
    if (t->refs_deferred) return defer(t, type, pk);
    return check_refs_now(t, type, e, m, pk);
}

static int check_refs_now(ent_txn *t, const ent_type *type, const ent_entity *e, const mask *m, const ent_slice *pk)
{
    for (size_t j = 0; j < type->n_indexes; j++) {
        const ent_field *f = type->indexes[j];
        const ent_val *v = &e->slots[f->pos];
        ent_slice k, out;
        int rc;
        if (f->kind != ENT_KIND_REF || v->k == EV_UNSET || (m && !mask_has(m, f->pos))) continue;
        t->k2.n = 0;
        if ((rc = ent__ikey_from_val(&t->k2, f, v))) return rc;
        k.data = t->k2.p;
        k.len = t->k2.n;
        /* A ref to e itself: the write makes it exist (a create is checked before its record is
         * put, and a root whose parent is itself was refused as missing), as a self-reference
         * does not keep an entity from its delete. A ref's key is encoded as its target's. */
        if (pk && f->ref_type == type && k.len == pk->len && !memcmp(k.data, pk->data, k.len)) continue;
        rc = ent__bk_get(t, t->lay->data[f->ref_type->pos], &k, &out);
        if (rc == ENT_NOTFOUND) {
            char vb[160];
            return ent__err(ENT_INVALID, "%s.%s: %s %s does not exist", type->name, f->name,
                            f->ref_type->name, ent__val_str(v, vb, sizeof vb));
        }
        if (rc) return rc;
    }
    return ENT_OK;
}

/* Index values in `m` must fit the backend, and unique ones must be free (or held by self_pk).
 * defaulted (may be NULL): the fields whose value the write took from their defaults, which a
 * refusal says (the caller gave no value, and two creates that leave a unique field to its
 * default are refused for a value neither named). */
static int check_indexes(ent_txn *t, const ent_type *type, const ent_entity *e, const mask *m,
                         const ent_slice *self_pk, const mask *defaulted)
{
    if (t->indexes_deferred) return ENT_OK; /* built over the final values at the replay's end */
    for (size_t j = 0; j < type->n_indexes; j++) {
        const ent_field *f = type->indexes[j];
        const ent_val *v = &e->slots[f->pos];
        ent_slice k, out;
        int rc;
        if (v->k == EV_UNSET || (m && !mask_has(m, f->pos))) continue;
        if ((rc = index_key(t, f, v))) return rc;
        if (!f->unique || t->uniques_deferred) continue; /* index_write() lets it wait */
        k.data = t->k2.p;
        k.len = t->k2.n;
        rc = ent__bk_get(t, t->lay->idx[type->pos][j], &k, &out);
        if (rc == ENT_NOTFOUND) continue;
        if (rc) return rc;
        if (self_pk && out.len == self_pk->len && memcmp(out.data, self_pk->data, out.len) == 0)
            continue;
        {
            char vb[160], kb[300], hb[200];
            ent_key other;
            ent_slice held;
            /* An entry whose entity is gone is damage, not a holder: the refusal named an entity
             * that does not exist ("taken by customer 99"), which no write could ever free. */
            int hr = ent__bk_get(t, t->lay->data[type->pos], &out, &held);
            if (hr && hr != ENT_NOTFOUND) return hr;
            if (ent__pk_decode(&other, type->key, out.data, out.len)) memset(&other, 0, sizeof other);
            ent__val_str(v, vb, sizeof vb);
            ent__key_str(&other, kb, sizeof kb);
            if (hr == ENT_NOTFOUND)
                return ent__err(ENT_CORRUPT, "%s.%s: value %s: the unique index names %s %s, which does not exist: "
                                "the index is damaged (entity check names it; a replay of the log rebuilds it)",
                                type->name, f->name, vb, type->name, kb);
            ent__held_as(hb, sizeof hb, t, type, f, &out, vb);
            return ent__err(ENT_CONFLICT, "%s.%s: value %s%s is taken by %s %s%s", type->name, f->name, vb,
                            defaulted && mask_has(defaulted, f->pos) ? " (the field's default)" : "", type->name,
                            kb, hb);
        }
    }
    return ENT_OK;
}

const char *ent__held_as(char *buf, size_t size, ent_txn *t, const ent_type *type, const ent_field *f,
                         const ent_slice *holder_pk, const char *mine)
{
    ent_entity *e = NULL;
    ent_key key;
    char hb[160];
    buf[0] = '\0';
    if (f->kind != ENT_KIND_FLOAT || ent__pk_decode(&key, type->key, holder_pk->data, holder_pk->len))
        return buf;
    /* only for the message: a holder that does not load (damaged) leaves the note out */
    if (load_entity(&e, t, type, &key, holder_pk) == ENT_OK && e->slots[f->pos].k == EV_FLOAT &&
        strcmp(ent__val_str(&e->slots[f->pos], hb, sizeof hb), mine) != 0)
        snprintf(buf, size, " (as %s: -0.0 and 0.0 are one value)", hb);
    ent_entity_free(e);
    return buf;
}

/* ---- deferred unique checks (ent_txn_defer_unique_checks) ---------------------------------------
 * A unique value that an entity takes while another holds it is not refused: its index entry
 * waits in t->upend until the holder lets the value go (upend_take), and is dropped when the
 * entity lets it go itself (upend_drop); one still waiting at the commit is a value two entities
 * hold. So the index always names the value's holder (a look-up in t finds it), and the waits are
 * only the values taken while held: a swap of two entities' values leaves none. Entries back to
 * back: type (a pointer), index number, live flag, key length, pk length (each a size_t), the
 * index key, the pk. */
typedef struct upend_head {
    const ent_type *type;
    size_t j, live, klen, pklen;
} upend_head;

static int upend_note(ent_txn *t, const ent_type *type, size_t j, const ent_slice *k, const ent_slice *pk)
{
    upend_head h = {type, j, 1, k->len, pk->len};
    int rc;
    if ((rc = ent__buf_append(&t->upend, &h, sizeof h)) || (rc = ent__buf_append(&t->upend, k->data, k->len)) ||
        (rc = ent__buf_append(&t->upend, pk->data, pk->len)))
        return rc;
    return ENT_OK;
}

/* The first live wait from offset at on for (type, j, k), and pk's own when pk is not NULL; its head
 * in *h and its offset returned, or (size_t)-1. */
static size_t upend_find(const ent_txn *t, size_t at, upend_head *h, const ent_type *type, size_t j,
                         const ent_slice *k, const ent_slice *pk)
{
    while (at < t->upend.n) {
        size_t here = at;
        const char *kp = t->upend.p + at + sizeof *h;
        memcpy(h, t->upend.p + at, sizeof *h);
        at += sizeof *h + h->klen + h->pklen;
        if (!h->live || h->type != type || h->j != j || h->klen != k->len || memcmp(kp, k->data, k->len)) continue;
        if (pk && (h->pklen != pk->len || memcmp(kp + h->klen, pk->data, pk->len))) continue;
        return here;
    }
    return (size_t)-1;
}

static void upend_kill(ent_txn *t, size_t at)
{
    size_t dead = 0;
    memcpy(t->upend.p + at + offsetof(upend_head, live), &dead, sizeof dead);
}

/* pk lets go of the value k (of index j of type) that waited for another holder: 1 when it did. */
static int upend_drop(ent_txn *t, const ent_type *type, size_t j, const ent_slice *k, const ent_slice *pk)
{
    upend_head h;
    size_t at = upend_find(t, 0, &h, type, j, k, pk);
    if (at == (size_t)-1) return 0;
    upend_kill(t, at);
    return 1;
}

/* The value k of index j (table tbl) was let go: the first entity that waits for it holds it. */
static int upend_take(ent_txn *t, const ent_type *type, size_t j, unsigned tbl, const ent_slice *k)
{
    upend_head h;
    ent_slice pk;
    size_t at = upend_find(t, 0, &h, type, j, k, NULL);
    if (at == (size_t)-1) return ENT_OK;
    upend_kill(t, at);
    pk.data = t->upend.p + at + sizeof h + h.klen;
    pk.len = h.pklen;
    return ent__bk_put(t, tbl, k, &pk, ENT_PUT_NOOVERWRITE);
}

int ent__uniques_check_deferred(ent_txn *t)
{
    ent_buf list = t->upend; /* taken: the message below reads with t's scratch buffers */
    size_t at = 0;
    int rc = ENT_OK;
    memset(&t->upend, 0, sizeof t->upend);
    t->uniques_deferred = 0;
    while (at < list.n) {
        upend_head h;
        ent_slice k, pk, out;
        memcpy(&h, list.p + at, sizeof h);
        k.data = list.p + at + sizeof h;
        k.len = h.klen;
        pk.data = list.p + at + sizeof h + h.klen;
        pk.len = h.pklen;
        at += sizeof h + h.klen + h.pklen;
        if (!h.live) continue;
        {
            const ent_type *type = h.type;
            const ent_field *f = type->indexes[h.j];
            char vb[160] = "?", kb[300], ob[300] = "?", hb[200] = "";
            ent_key key, other;
            ent_entity *e = NULL;
            if (ent__pk_decode(&key, type->key, pk.data, pk.len)) memset(&key, 0, sizeof key);
            if (load_entity(&e, t, type, &key, &pk) == ENT_OK) ent__val_str(&e->slots[f->pos], vb, sizeof vb);
            ent_entity_free(e);
            if (ent__bk_get(t, t->lay->idx[type->pos][h.j], &k, &out) == ENT_OK &&
                !ent__pk_decode(&other, type->key, out.data, out.len)) {
                ent__key_str(&other, ob, sizeof ob);
                ent__held_as(hb, sizeof hb, t, type, f, &out, vb);
            }
            rc = ent__err(ENT_CONFLICT, "%s.%s: value %s is taken by %s %s%s, and %s %s took it too%s", type->name,
                          f->name, vb, type->name, ob, hb, type->name, ent__key_str(&key, kb, sizeof kb),
                          t->mirror_apply ? "" : " (unique values checked at the end: ent_txn_defer_unique_checks)");
            break;
        }
    }
    ent__buf_free(&list);
    return rc;
}

/* pk takes unique value k: its entry, or a wait for the holder to let it go. A look-up first, not
 * a put the backend refuses: LMDB's refusal sets the thread's message, which this call, succeeding,
 * left behind (ent_txn_run() then gave it for the code its function returned without one). */
static int unique_add_deferred(ent_txn *t, const ent_type *type, size_t j, unsigned tbl, const ent_slice *k,
                               const ent_slice *pk)
{
    ent_slice out;
    int rc = ent__bk_get(t, tbl, k, &out);
    if (rc == ENT_OK) return upend_note(t, type, j, k, pk);
    if (rc != ENT_NOTFOUND) return rc;
    return ent__bk_put(t, tbl, k, pk, ENT_PUT_NOOVERWRITE);
}

/* pk lets go of unique value k: its entry goes (the first that waits for the value takes it), or
 * its wait. ENT_NOTFOUND when it held the value neither way. */
static int unique_del_deferred(ent_txn *t, const ent_type *type, size_t j, unsigned tbl, const ent_slice *k,
                               const ent_slice *pk)
{
    ent_slice out;
    int rc = ent__bk_get(t, tbl, k, &out);
    if (rc == ENT_OK && out.len == pk->len && !memcmp(out.data, pk->data, pk->len)) {
        if ((rc = ent__bk_del(t, tbl, k, NULL))) return rc;
        return upend_take(t, type, j, tbl, k);
    }
    if (rc != ENT_OK && rc != ENT_NOTFOUND) return rc;
    return upend_drop(t, type, j, k, pk) ? ENT_OK : ENT_NOTFOUND;
}

/* Add (add != 0) or remove the index entries of e's fields in `m` (all when NULL) for pk. */
static int index_write(ent_txn *t, const ent_type *type, const ent_entity *e, const mask *m,
                       const ent_slice *pk, int add)
{
    if (t->indexes_deferred) return ENT_OK; /* rebuilt whole at the replay's end */
    for (size_t j = 0; j < type->n_indexes; j++) {
        const ent_field *f = type->indexes[j];
        const ent_val *v = &e->slots[f->pos];
        unsigned tbl = t->lay->idx[type->pos][j];
        ent_slice k;
        int rc;
        if (v->k == EV_UNSET || (m && !mask_has(m, f->pos))) continue;
        if ((rc = index_key(t, f, v))) return rc;
        k.data = t->k2.p;
        k.len = t->k2.n;
        if (f->unique && t->uniques_deferred) {
            rc = add ? unique_add_deferred(t, type, j, tbl, &k, pk) : unique_del_deferred(t, type, j, tbl, &k, pk);
        } else if (add)
            rc = ent__bk_put(t, tbl, &k, pk, f->unique ? ENT_PUT_NOOVERWRITE : 0);
        else
            rc = ent__bk_del(t, tbl, &k, f->unique ? NULL : pk);
        if (rc == ENT_NOTFOUND && !add) {
            char path[160];
            return ent__err(ENT_CORRUPT, "%s: index entry missing", ent__field_path(f, path, sizeof path));
        }
        if (rc) return rc;
    }
    return ENT_OK;
}

/* Put e's record under pk. fields_at (may be NULL): where its packed fields start in t->v1. */
static int put_record(ent_txn *t, const ent_type *type, const ent_entity *e, const ent_slice *pk,
                      unsigned flags, size_t *fields_at)
{
    ent_slice v;
    int rc;
    t->v1.n = 0;
    if ((rc = ent__record_encode(&t->v1, e, fields_at))) return rc;
    v.data = t->v1.p;
    v.len = t->v1.n;
    return ent__bk_put(t, t->lay->data[type->pos], pk, &v, flags);
}

/* Defaults put into a caller's entity, remembered so a refused call gives it back as it came. */
typedef struct defaults_done {
    mask top;       /* top-level fields that were unset and got their default */
    ent_val *saved; /* per top-level field: its value before sub-field defaults went in, or unset */
} defaults_done;

static int applied_init(defaults_done *a, const ent_type *type)
{
    a->saved = NULL;
    return mask_init(&a->top, type);
}

/* Apply defaults to e's unset fields, at the top and inside declared maps: a field with a default
 * is never stored absent (the same rule as reading a record, see ent__entity_fill_defaults()). */
static int defaults_apply(ent_entity *e, const ent_type *type, defaults_done *a)
{
    for (size_t i = 0; i < type->n_fields; i++) {
        const ent_field *f = type->fields[i];
        ent_val *v = &e->slots[i];
        size_t n = 0;
        int rc;
        if (v->k == EV_UNSET) {
            if (!f->def || f->def->k == EV_UNSET) continue;
            /* with the defaults of its own sub-fields, as a read fills them: the record and its
             * event hold what ent_get() gives */
            if ((rc = ent__val_copy(v, f->def))) return rc;
            mask_set(&a->top, i);
            if ((rc = ent__val_fill_defaults(f, v, &n))) return rc;
            continue;
        }
        if (!f->defaults_below) continue;
        if (!a->saved && !(a->saved = calloc(type->n_fields, sizeof *a->saved)))
            return ent__err(ENT_NOMEM, "out of memory");
        if ((rc = ent__val_copy(&a->saved[i], v))) return rc;
        if ((rc = ent__val_fill_defaults(f, v, &n))) return rc;
        if (!n) ent__val_clear(&a->saved[i]); /* nothing filled: nothing to give back */
    }
    return ENT_OK;
}

/* Give e back its values from before defaults_apply(). The caller's own values stay where they
 * are (ent__val_adopt): only the defaults that went in come out, so pointers it borrowed from e
 * survive a refused call. */
static void defaults_undo(ent_entity *e, defaults_done *a)
{
    for (size_t i = 0; i < e->type->n_fields; i++) {
        if (mask_has(&a->top, i)) ent__val_clear(&e->slots[i]);
        if (a->saved && a->saved[i].k != EV_UNSET) {
            ent__val_adopt(&e->slots[i], &a->saved[i]);
            ent__val_clear(&a->saved[i]);
        }
    }
}

static void applied_free(defaults_done *a, size_t n_fields)
{
    if (a->saved)
        for (size_t i = 0; i < n_fields; i++) ent__val_clear(&a->saved[i]);
    free(a->saved);
    mask_free(&a->top);
}

/* A call without a transaction commits after its work returns (ent__txn_write: alone, or in a
 * group whose commit may fail for every caller), and store.h promises that a failed call leaves
 * its entity as it was. So such a call hands its result to the entity only once the commit is in:
 * the work leaves e as the call found it (but for the defaults it applied, undone on failure) and
 * fills this instead. Had e been merged and its changes cleared before a failed commit, retrying
 * the update would find nothing to change and return ENT_OK without writing. A call given a
 * transaction updates e at once (NULL here), as the host's later commit is its own. */
typedef struct handover {
    int pending;           /* the work succeeded: finish e once the commit is in, else undo */
    size_t n_fields;
    uint64_t version;
    ent_entity *merged;    /* update: the merged entity, adopted from */
    int key_assigned;      /* create: e gets its auto id */
    uint64_t key_id;
    int has_applied;
    defaults_done applied; /* the defaults put into e (create, replace, restore) */
} handover;

/* h->applied already holds what the work applied; has_applied: whether e still holds it. */
static void handover_keep(handover *h, const ent_type *type, uint64_t version, ent_entity **merged,
                          int has_applied)
{
    h->pending = 1;
    h->key_assigned = 0;
    h->n_fields = type->n_fields;
    h->version = version;
    h->merged = *merged;
    *merged = NULL;
    h->has_applied = has_applied;
}

static void adopt_slots(ent_entity *e, ent_entity *merged, size_t n);
static int set_key(ent_entity *e, const ent_key *key);

/* After ent__txn_write() returned rc: finish e (rc ENT_OK) or give it back as it came. */
static int handover_end(ent_entity *e, handover *h, int rc)
{
    if (!h->pending) return rc; /* the work failed: it gave e back itself */
    if (rc == ENT_OK) {
        if (h->merged) adopt_slots(e, h->merged, h->n_fields);
        e->version = h->version;
        if (h->key_assigned) {
            ent_key k = ent_key_id(h->key_id);
            set_key(e, &k); /* an id: nothing to allocate */
        }
        ent_entity_clear_changed(e);
    } else if (h->has_applied) {
        defaults_undo(e, &h->applied);
    }
    if (h->has_applied) applied_free(&h->applied, h->n_fields);
    ent_entity_free(h->merged);
    h->pending = 0;
    return rc;
}

/* ---- create ---------------------------------------------------------------------------------- */

/* version: 1 for a create, the given version for a restore of a missing entity. h: see handover. */
static int do_create(ent_txn *t, const ent_type *type, ent_entity *e, uint64_t version, int *half,
                     handover *h)
{
    ent_tcount *tc = &t->tc[type->pos];
    ent_key key = entity_key(e);
    ent_slice pk, out, packed;
    defaults_done local, *ap = h ? &h->applied : &local;
    ent_entity *none = NULL;
    size_t fields_at = 0;
    uint64_t saved_version = e->version;
    char kb[300];
    int rc, assigned = 0;

    if ((rc = ent__tcount_load(t, type))) return rc;
    if ((rc = applied_init(ap, type))) return rc;
    if (type->has_defaults && (rc = defaults_apply(e, type, ap))) goto fail;
    /* Validation and the record in one walk over the values (callgrind: the two walks were a fifth
     * of a batched create, issue 14). t->v1 keeps the record until it is put: the checks below use
     * t->k1 and t->k2 only. */
    t->v1.n = 0;
    if ((rc = ent__record_encode_valid(&t->v1, e, version, &fields_at))) goto fail;
    if (type->key == ENT_KEY_AUTO && key.kind == ENT_KEY_NONE) {
        if (tc->next_id == UINT64_MAX) {
            rc = ent__errd(ENT_FULL, ENT_DETAIL_EXHAUSTED, "%s: auto ids exhausted", type->name);
            goto fail;
        }
        key = ent_key_id(tc->next_id + 1);
        assigned = 1;
    }
    if ((rc = pk_of(t, type, &key))) goto fail;
    pk.data = t->k1.p;
    pk.len = t->k1.n;
    /* An id just assigned from the counter is free unless the store is damaged: the record's own
     * put (NOOVERWRITE, the first write) finds that case below, and a lookup first would cost
     * each create a third B-tree walk (perf: 8 % of a batched create). */
    rc = assigned ? ENT_NOTFOUND : ent__bk_get(t, t->lay->data[type->pos], &pk, &out);
    if (rc == ENT_OK) {
        rc = ent__err(ENT_CONFLICT, "%s %s exists already", type->name, ent__key_str(&key, kb, sizeof kb));
        goto fail;
    }
    if (rc != ENT_NOTFOUND) goto fail;
    if (type->n_indexes && ((rc = check_refs(t, type, e, NULL, &pk)) || (rc = check_indexes(t, type, e, NULL, NULL, &ap->top))))
        goto fail;

    /* From here on a failure leaves writes half done. t->k1 holds pk until the record is put. */
    *half = 1;
    e->version = version;
    packed.data = t->v1.p;
    packed.len = t->v1.n;
    if ((rc = ent__bk_put(t, t->lay->data[type->pos], &pk, &packed, ENT_PUT_NOOVERWRITE))) {
        if (rc == ENT_CONFLICT) { /* nothing written: the put refused (see `assigned`) */
            *half = 0;
            rc = ent__err(ENT_CONFLICT, "%s %s exists already", type->name, ent__key_str(&key, kb, sizeof kb));
        }
        goto fail;
    }
    if (type->n_indexes && (rc = index_write(t, type, e, NULL, &pk, 1))) goto fail;
    /* The create event's data is every field: the record's packed fields, still in t->v1. */
    packed.data = t->v1.p + fields_at;
    packed.len = t->v1.n - fields_at;
    if ((rc = ent__log_append(t, type, &key, ENT_OP_CREATE, version, e, NULL, &packed))) goto fail;
    if (key.kind == ENT_KEY_AUTO && key.id > tc->next_id) tc->next_id = key.id;
    tc->count++;
    tc->dirty = 1;
    if (h) {
        e->version = saved_version;
        handover_keep(h, type, version, &none, 1);
        h->key_assigned = e->key_kind == ENT_KEY_NONE;
        h->key_id = key.id;
        return ENT_OK;
    }
    if (e->key_kind == ENT_KEY_NONE && (rc = set_key(e, &key))) goto fail;
    memset(e->changed, 0, (e->type->n_fields + 63) / 64 * sizeof *e->changed); /* ent_entity_clear_changed() */
    applied_free(ap, type->n_fields);
    return ENT_OK;
fail:
    e->version = saved_version;
    defaults_undo(e, ap);
    applied_free(ap, type->n_fields);
    return rc;
}

/* Each write call is a function of the transaction it runs in (ent__txn_write: the host's, its
 * own, or a group's) and of an argument struct. */
typedef struct write_arg {
    ent_entity *e;
    uint64_t expect;
    int mode;
    handover *h; /* txn NULL: the result goes to e after the commit */
} write_arg;

/* A group whose transaction broke runs its callers' work again (txn_group.c): what an earlier run
 * left for e goes first. */
static void handover_again(write_arg *a)
{
    if (a->h) handover_end(a->e, a->h, ENT_BUSY);
}

static int create_in(ent_txn *t, void *p, int *half)
{
    write_arg *a = p;
    const ent_type *type;
    int rc;
    handover_again(a);
    rc = ent__type_resolve(&type, t, a->e->type);
    if (!rc) rc = do_create(t, type, a->e, 1, half, a->h);
    return rc;
}

/* Run fn with a; with txn NULL the entity gets its result once the commit is in. */
static int entity_call(ent_store *s, ent_txn *txn, ent__write_fn fn, write_arg *a)
{
    handover h;
    if (txn) return ent__txn_write(s, txn, fn, a);
    h.pending = 0; /* the rest is filled when the work succeeds (handover_keep) */
    a->h = &h;
    return handover_end(a->e, &h, ent__txn_write(s, NULL, fn, a));
}

int ent_create(ent_store *s, ent_txn *txn, ent_entity *e)
{
    write_arg a = {e, 0, 0, NULL};
    if (!e) return ent__err(ENT_INVALID, "ent_create: entity is NULL");
    return entity_call(s, txn, create_in, &a);
}

/* ---- replace / update / restore -------------------------------------------------------------- */

enum { W_REPLACE, W_UPDATE, W_RESTORE };

/* Hand the merged state to the caller's entity. Values the merge left equal stay in place, so
 * strings and bytes the caller borrowed from e stay valid (value.h: "until the field is next
 * changed"); only values that differ (another writer's change merged in, a default filled in) move
 * over from the merged copy. Each entity keeps its own slot array (allocated with the entity). */
static void adopt_slots(ent_entity *e, ent_entity *merged, size_t n)
{
    for (size_t i = 0; i < n; i++) ent__val_adopt(&e->slots[i], &merged->slots[i]);
}

static int do_write(ent_txn *t, const ent_type *type, ent_entity *e, uint64_t expect, int mode,
                    int *half, handover *h)
{
    ent_key key = entity_key(e);
    ent_entity *old = NULL, *neu = NULL, *target;
    ent_slice pk;
    mask diff, evm; /* fields that differ; fields the event carries */
    defaults_done local, *ap = h ? &h->applied : &local;
    uint64_t version;
    char kb[300];
    int rc, have_applied = 0;

    if ((rc = mask_init(&diff, type))) return rc;
    if ((rc = mask_init(&evm, type))) {
        mask_free(&diff);
        return rc;
    }
    if ((rc = applied_init(ap, type))) {
        mask_free(&evm);
        mask_free(&diff);
        return rc;
    }
    /* t->k1 holds the primary key for the whole call: only pk_of() writes it. */
    if ((rc = pk_of(t, type, &key))) goto out;
    pk.data = t->k1.p;
    pk.len = t->k1.n;
    /* The record as stored, then its defaults: old's changed flags mark the fields the record
     * lacked (written before an evolution gave them a default). A write stores them, so the event
     * carries them too, and replaying the log gives the record as written. */
    if ((rc = load_entity_as(&old, t, type, &key, &pk, 1))) goto out;
    if ((rc = ent__entity_fill_defaults(old, 1))) goto out;
    if (expect != ENT_VERSION_ANY && old->version != expect) {
        rc = ent__err(ENT_CONFLICT, "%s %s is at version %" PRIu64 ", expected %" PRIu64, type->name,
                      ent__key_str(&key, kb, sizeof kb), old->version, expect);
        goto out;
    }
    if (mode == W_UPDATE) {
        if ((rc = ent_entity_dup(&neu, old))) goto out;
        ent_entity_clear_changed(neu);
        for (size_t i = 0; i < type->n_fields; i++) {
            if (!ent__is_changed(e, i)) continue;
            ent__val_clear(&neu->slots[i]);
            if (e->slots[i].k != EV_UNSET && (rc = ent__val_copy(&neu->slots[i], &e->slots[i])))
                goto out;
        }
        /* A field the update removes or a map it sets goes back to its defaults, as on create. */
        if ((rc = ent__entity_fill_defaults(neu, 0))) goto out;
        target = neu;
    } else {
        have_applied = 1;
        if ((rc = defaults_apply(e, type, ap))) goto out;
        target = e;
    }
    if ((rc = ent_entity_validate(target))) goto out;
    for (size_t i = 0; i < type->n_fields; i++) {
        /* A value the caller gives for a field the record lacks is stored even when it equals
         * the default the record reads with: a later evolution may change that default. */
        int given = mode == W_UPDATE ? ent__is_changed(e, i) : !mask_has(&ap->top, i);
        if (!ent__val_equal(&old->slots[i], &target->slots[i]) ||
            (ent__is_changed(old, i) && given && target->slots[i].k != EV_UNSET))
            mask_set(&diff, i);
    }
    if (mode == W_RESTORE) {
        version = e->version;
        if (version == 0) {
            rc = ent__err(ENT_INVALID, "%s %s: a restored entity needs a version >= 1", type->name,
                          ent__key_str(&key, kb, sizeof kb));
            goto out;
        }

        /* A replay keeps every event of its source, seq for seq: under the newest schema an
         * event may change nothing (a removed field that a later default brings back). */
        if (mask_empty(&diff) && version == old->version && !t->restore_always) goto same;
        if (t->restore_forward && version <= old->version) {
            /* A value that differs, not one the record only lacked (a default it reads with): a
             * load of its own dump into a store written before an evolution stores those. */
            int other = version < old->version;
            for (size_t i = 0; i < type->n_fields && !other; i++)
                other = !ent__val_equal(&old->slots[i], &target->slots[i]);
            if (other) {
                rc = ent__err(ENT_CONFLICT,
                              "%s %s is at version %" PRIu64 " in the store, the restored one at %" PRIu64
                              "%s: versions never go back",
                              type->name, ent__key_str(&key, kb, sizeof kb), old->version, version,
                              version == old->version ? " with other values" : "");
                goto out;
            }
        }
    } else {
        if (mask_empty(&diff)) goto same;
        /* The next version must not pass ENT_VERSION_LAST: above it a delete's event would carry
         * ENT_VERSION_ANY's number ("any"), then wrap to 0 ("not stored"). A restored entity can
         * start anywhere up to it. */
        if (old->version >= ENT_VERSION_LAST) {
            rc = ent__errd(ENT_FULL, ENT_DETAIL_EXHAUSTED, "%s %s: versions exhausted (at %" PRIu64 ")", type->name,
                           ent__key_str(&key, kb, sizeof kb), old->version);
            goto out;
        }
        version = old->version + 1;
    }
    if ((rc = check_refs(t, type, target, &diff, &pk))) goto out;
    if ((rc = check_indexes(t, type, target, &diff, &pk, have_applied ? &ap->top : NULL))) goto out;

    *half = 1;
    if ((rc = index_write(t, type, old, &diff, &pk, 0))) goto out;
    if ((rc = index_write(t, type, target, &diff, &pk, 1))) goto out;
    {
        uint64_t saved = target->version;
        target->version = version;
        rc = put_record(t, type, target, &pk, 0, NULL);
        target->version = saved;
        if (rc) goto out;
    }
    for (size_t i = 0; i < type->n_fields; i++)
        if (ent__is_changed(old, i) && target->slots[i].k != EV_UNSET) mask_set(&evm, i);
    for (size_t i = 0; i < diff.nw; i++) evm.w[i] |= diff.w[i];
    if ((rc = ent__log_append(t, type, &key, ENT_OP_UPDATE, version, target, evm.w, NULL))) goto out;
    goto done;
same:
    /* Nothing differs: nothing is written and the version stays. */
    version = old->version;
done:
    rc = ENT_OK;
    if (h) {
        ent_entity *none = NULL;
        handover_keep(h, type, version, mode == W_UPDATE ? &neu : &none, have_applied);
        if (!have_applied) applied_free(ap, type->n_fields);
        have_applied = 0;
        ap = NULL;
        goto out;
    }
    if (mode == W_UPDATE) adopt_slots(e, neu, type->n_fields);
    e->version = version;
    ent_entity_clear_changed(e);
    have_applied = 0;
out:
    if (ap) {
        if (have_applied) defaults_undo(e, ap);
        applied_free(ap, type->n_fields);
    }
    mask_free(&evm);
    mask_free(&diff);
    ent_entity_free(old);
    ent_entity_free(neu);
    return rc;
}

static int write_in(ent_txn *t, void *p, int *half)
{
    write_arg *a = p;
    const ent_type *type;
    int rc;
    handover_again(a);
    rc = ent__type_resolve(&type, t, a->e->type);
    if (!rc) rc = do_write(t, type, a->e, a->expect, a->mode, half, a->h);
    return rc;
}

static int write_call(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect, int mode)
{
    write_arg a = {e, expect, mode, NULL};
    if (!e) return ent__err(ENT_INVALID, "entity is NULL");
    return entity_call(s, txn, write_in, &a);
}

int ent_replace(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect)
{
    return write_call(s, txn, e, expect, W_REPLACE);
}

int ent_update(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect)
{
    return write_call(s, txn, e, expect, W_UPDATE);
}

/* Does the entity with e's key exist? ENT_OK / ENT_NOTFOUND. Leaves pk in t->k1. */
static int exists_in(ent_txn *t, const ent_type *type, const ent_key *key)
{
    ent_slice pk, out;
    int rc = pk_of(t, type, key);
    if (rc) return rc;
    pk.data = t->k1.p;
    pk.len = t->k1.n;
    return ent__bk_get(t, t->lay->data[type->pos], &pk, &out);
}

static int upsert_in(ent_txn *t, void *p, int *half)
{
    write_arg *a = p;
    ent_entity *e = a->e;
    uint64_t expect = a->expect;
    const ent_type *type;
    ent_key key;
    char kb[300];
    int rc;
    handover_again(a);
    if ((rc = ent__type_resolve(&type, t, e->type))) goto out;
    key = entity_key(e);
    if (key.kind == ENT_KEY_NONE && type->key == ENT_KEY_AUTO) {
        rc = expect == ENT_VERSION_ANY || expect == 0
                 ? do_create(t, type, e, 1, half, a->h)
                 : ent__err(ENT_CONFLICT, "%s: a new entity cannot be at version %" PRIu64, type->name, expect);
        goto out;
    }
    rc = exists_in(t, type, &key);
    if (rc == ENT_OK) {
        if (expect == 0)
            rc = ent__err(ENT_CONFLICT, "%s %s exists already", type->name, ent__key_str(&key, kb, sizeof kb));
        else
            rc = do_write(t, type, e, expect, W_REPLACE, half, a->h);
    } else if (rc == ENT_NOTFOUND) {
        if (expect != ENT_VERSION_ANY && expect != 0)
            rc = ent__err(ENT_CONFLICT, "%s %s does not exist (expected version %" PRIu64 ")",
                          type->name, ent__key_str(&key, kb, sizeof kb), expect);
        else
            rc = do_create(t, type, e, 1, half, a->h);
    }
out:
    return rc;
}

int ent_upsert(ent_store *s, ent_txn *txn, ent_entity *e, uint64_t expect)
{
    write_arg a = {e, expect, W_REPLACE, NULL};
    if (!e) return ent__err(ENT_INVALID, "ent_upsert: entity is NULL");
    return entity_call(s, txn, upsert_in, &a);
}

static int restore_in(ent_txn *t, void *p, int *half)
{
    write_arg *a = p;
    ent_entity *e = a->e;
    const ent_type *type;
    ent_key key;
    int rc;
    handover_again(a);
    if ((rc = ent__type_resolve(&type, t, e->type))) goto out;
    key = entity_key(e);
    if (key.kind == ENT_KEY_NONE) {
        rc = ent__err(ENT_INVALID, "%s: a restored entity needs its key", type->name);
        goto out;
    }
    if (e->version == 0) {
        rc = ent__err(ENT_INVALID, "%s: a restored entity needs a version >= 1", type->name);
        goto out;
    }
    /* Its delete would log the version after it: ENT_VERSION_ANY's number at 2^64-2. A copy of
     * a log (a mirror, a replay) takes what a store of before this limit wrote. */
    if (e->version > ENT_VERSION_LAST && !t->mirror_apply && !t->restore_always) {
        char kb[300];
        rc = ent__err(ENT_INVALID, "%s %s: version %" PRIu64 " is above the last one an entity can hold (%" PRIu64
                      ": a delete logs the version after it, and 2^64-1 stands for any version)",
                      type->name, ent__key_str(&key, kb, sizeof kb), e->version, (uint64_t)ENT_VERSION_LAST);
        goto out;
    }
    rc = exists_in(t, type, &key);
    if (rc == ENT_OK)
        rc = do_write(t, type, e, ENT_VERSION_ANY, W_RESTORE, half, a->h);
    else if (rc == ENT_NOTFOUND)
        rc = do_create(t, type, e, e->version, half, a->h);
out:
    return rc;
}

int ent_restore(ent_store *s, ent_txn *txn, ent_entity *e)
{
    write_arg a = {e, 0, W_RESTORE, NULL};
    if (!e) return ent__err(ENT_INVALID, "ent_restore: entity is NULL");
    return entity_call(s, txn, restore_in, &a);
}

/* ---- delete ---------------------------------------------------------------------------------- */

/* ENT_CONFLICT naming one referrer when an entity of another type (or another entity of the
 * same type) still refers to pk. */
static int check_unreferenced(ent_txn *t, const ent_type *type, const ent_key *key, const ent_slice *pk)
{
    const ent_schema *sc = t->lay->schema;
    for (size_t i = 0; i < sc->n_types; i++) {
        const ent_type *rt = sc->types[i];
        for (size_t j = 0; j < rt->n_indexes; j++) {
            const ent_field *f = rt->indexes[j];
            ent_bcur *cur = NULL;
            ent_slice k, v;
            int rc, op = ENT_CUR_SEEK, found = 0;
            if (f->kind != ENT_KIND_REF || f->ref_type != type) continue;
            if ((rc = ent__bk_cursor_open(t, t->lay->idx[i][j], &cur))) return rc;
            k = *pk;
            for (;; op = ENT_CUR_NEXT) {
                rc = ent__bk_cursor_get(t->s, cur, op, &k, &v);
                if (rc == ENT_NOTFOUND) break;
                if (rc) {
                    ent__bk_cursor_close(t->s, cur);
                    return rc;
                }
                if (k.len != pk->len || memcmp(k.data, pk->data, k.len) != 0) break;
                /* An entity that refers to itself does not keep itself alive. */
                if (rt == type && v.len == pk->len && memcmp(v.data, pk->data, v.len) == 0) continue;
                found = 1;
                break;
            }
            if (found) {
                ent_key other;
                char kb[300], ob[300];
                ent__pk_decode(&other, rt->key, v.data, v.len);
                ent__key_str(&other, ob, sizeof ob);
                ent__bk_cursor_close(t->s, cur);
                return ent__err(ENT_CONFLICT, "%s %s is still referenced by %s %s (field %s)",
                                type->name, ent__key_str(key, kb, sizeof kb), rt->name, ob, f->name);
            }
            ent__bk_cursor_close(t->s, cur);
        }
    }
    return ENT_OK;
}

static int do_delete(ent_txn *t, const ent_type *type, const ent_key *key, uint64_t expect, int *half)
{
    ent_entity *old = NULL;
    ent_slice pk;
    ent_buf pkb = {0};
    char kb[300];
    int rc;
    if ((rc = ent__tcount_load(t, type))) return rc;
    if ((rc = pk_of(t, type, key))) return rc;
    if ((rc = ent__buf_append(&pkb, t->k1.p, t->k1.n))) return rc;
    pk.data = pkb.p;
    pk.len = pkb.n;
    if ((rc = load_entity(&old, t, type, key, &pk))) goto out;
    if (expect != ENT_VERSION_ANY && old->version != expect) {
        rc = ent__err(ENT_CONFLICT, "%s %s is at version %" PRIu64 ", expected %" PRIu64, type->name,
                      ent__key_str(key, kb, sizeof kb), old->version, expect);
        goto out;
    }
    /* A mirror applies what the primary committed: a transaction that deferred its ref checks
     * (ent_txn_defer_ref_checks) may delete an entity before the ones that refer to it, and was
     * checked whole at the primary's commit. Checked here, the mirror refused it. */
    if (t->mirror_apply) rc = ENT_OK;
    else if (t->refs_deferred) rc = defer(t, type, &pk);
    else rc = check_unreferenced(t, type, key, &pk);
    if (rc) goto out;
    *half = 1;
    if ((rc = index_write(t, type, old, NULL, &pk, 0))) goto out;
    if ((rc = ent__bk_del(t, t->lay->data[type->pos], &pk, NULL))) goto out;
    if ((rc = ent__log_append(t, type, key, ENT_OP_DELETE, old->version + 1, NULL, NULL, NULL))) goto out;
    t->tc[type->pos].count--;
    t->tc[type->pos].dirty = 1;
out:
    ent__buf_free(&pkb);
    ent_entity_free(old);
    return rc;
}

typedef struct delete_arg {
    const ent_type *type;
    const ent_key *key;
    uint64_t expect;
} delete_arg;

static int delete_in(ent_txn *t, void *p, int *half)
{
    delete_arg *a = p;
    const ent_type *rt;
    int rc = ent__type_resolve(&rt, t, a->type);
    if (!rc) rc = do_delete(t, rt, a->key, a->expect, half);
    return rc;
}

int ent_delete(ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *key, uint64_t expect)
{
    delete_arg a = {type, key, expect};
    if (!key) return ent__err(ENT_INVALID, "ent_delete: key is NULL");
    return ent__txn_write(s, txn, delete_in, &a);
}

/* ---- reads ------------------------------------------------------------------------------------ */

int ent_get(ent_entity **out, ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *key)
{
    ent_txn *t;
    const ent_type *rt;
    ent_entity *e = NULL;
    ent_slice pk;
    int rc;
    if (!out || !key) return ent__err(ENT_INVALID, "ent_get: %s is NULL", !out ? "out" : "key");
    *out = NULL;
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    if ((rc = ent__type_resolve(&rt, t, type))) goto out;
    if ((rc = pk_of(t, rt, key))) goto out;
    pk.data = t->k1.p;
    pk.len = t->k1.n;
    if ((rc = load_entity(&e, t, rt, key, &pk))) goto out;
    if ((rc = set_key(e, key))) goto out;
    *out = e;
    e = NULL;
out:
    ent_entity_free(e);
    return ent__txn_end(t, txn, rc, 0);
}

int ent_exists(ent_store *s, ent_txn *txn, const ent_type *type, const ent_key *key)
{
    ent_txn *t;
    const ent_type *rt;
    int rc;
    if (!key) return ent__err(ENT_INVALID, "ent_exists: key is NULL");
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = ent__type_resolve(&rt, t, type);
    if (!rc) rc = exists_in(t, rt, key);
    if (rc == ENT_NOTFOUND) {
        char kb[300];
        ent__err(rc, "%s %s not found", rt->name, ent__key_str(key, kb, sizeof kb));
    }
    return ent__txn_end(t, txn, rc, 0);
}

int ent_count(uint64_t *out, ent_store *s, ent_txn *txn, const ent_type *type)
{
    ent_txn *t;
    const ent_type *rt;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_count: out is NULL");
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = ent__type_resolve(&rt, t, type);
    if (!rc) rc = ent__type_counters(NULL, out, t, rt);
    return ent__txn_end(t, txn, rc, 0);
}

static int auto_type(const ent_type *rt, const char *fn)
{
    if (rt->key == ENT_KEY_AUTO) return ENT_OK;
    return ent__err(ENT_INVALID, "%s: %s has string keys: it has no id counter", fn, rt->name);
}

int ent_last_id(uint64_t *out, ent_store *s, ent_txn *txn, const ent_type *type)
{
    ent_txn *t;
    const ent_type *rt;
    int rc;
    if (!out) return ent__err(ENT_INVALID, "ent_last_id: out is NULL");
    if ((rc = ent__txn_use(&t, s, txn, 0))) return rc;
    rc = ent__type_resolve(&rt, t, type);
    if (!rc) rc = auto_type(rt, "ent_last_id");
    if (!rc) rc = ent__type_counters(out, NULL, t, rt);
    return ent__txn_end(t, txn, rc, 0);
}

int ent_last_id_raise(ent_store *s, ent_txn *txn, const ent_type *type, uint64_t id)
{
    ent_txn *t;
    const ent_type *rt;
    int rc, half = 0;
    if ((rc = ent__txn_use(&t, s, txn, 1))) return rc;
    rc = ent__type_resolve(&rt, t, type);
    if (!rc) rc = auto_type(rt, "ent_last_id_raise");
    /* A mirror takes its ids from its primary's log alone (the raise's event, applied with the
     * primary's seq): it refuses this as it refuses a write. */
    if (!rc) rc = ent__mirror_guard(t);
    if (!rc) rc = ent__tcount_load(t, rt);
    if (!rc && id > t->tc[rt->pos].next_id) {
        /* Logged in the same transaction, as every committed change is: a mirror, a replay and
         * the stream then count the ids this store counts. Unlogged, a mirror promoted to a
         * primary, or a store rebuilt from the log, gave out again ids this one had handed out
         * and deleted: an id a host kept named another entity. At or below the counter nothing
         * changes and nothing is logged. */
        ent_key k = ent_key_id(id);
        rc = ent__log_append(t, rt, &k, ENT_OP_LAST_ID, 0, NULL, NULL, NULL);
        if (!rc) {
            t->tc[rt->pos].next_id = id;
            t->tc[rt->pos].dirty = 1;
        }
        half = rc != ENT_OK; /* a failed put may leave the backend's transaction unusable */
    }
    return ent__txn_end(t, txn, rc, half);
}

/* ---- deferred ref checks ----------------------------------------------------------------------- */

int ent__refs_check_deferred(ent_txn *t)
{
    ent_buf list = t->deferred; /* taken: the checks below use t's scratch buffers, not this */
    size_t at = 0;
    int rc = ENT_OK;
    memset(&t->deferred, 0, sizeof t->deferred);
    t->refs_deferred = 0;
    while (rc == ENT_OK && at < list.n) {
        char name[ENT_NAME_MAX + 1];
        size_t nlen = list.p[at];
        uint32_t pl;
        const ent_type *type;
        ent_entity *e = NULL;
        ent_slice pk;
        ent_key key;
        memcpy(name, list.p + at + 1, nlen);
        name[nlen] = '\0';
        memcpy(&pl, list.p + at + 1 + nlen, 4);
        pk.data = list.p + at + 5 + nlen;
        pk.len = pl;
        at += 5 + nlen + pl;
        /* a type gone from the schema since (an evolution in the same transaction) holds nothing */
        if (!(type = ent_schema_type(t->lay->schema, name))) continue;
        if (ent__pk_decode(&key, type->key, pk.data, pk.len)) {
            rc = ent__err(ENT_CORRUPT, "%s: a key noted for a deferred ref check does not decode", name);
            break;
        }
        rc = load_entity(&e, t, type, &key, &pk);
        if (rc == ENT_OK) {
            /* written and still there: every ref it holds must point at an entity */
            if (type->n_indexes) rc = check_refs_now(t, type, e, NULL, NULL);
            ent_entity_free(e);
        } else if (rc == ENT_NOTFOUND) {
            /* deleted (or never made): nothing may refer to it */
            rc = check_unreferenced(t, type, &key, &pk);
        }
    }
    ent__buf_free(&list);
    return rc;
}
