/* The memory backend's cursors: a position in a table's tree that survives writes of its own
 * transaction (it re-seeks from a copy of its key when the tree changed). Uses
 * backend_memory_tree.c. */
#include "backend_memory_int.h"

/* ---- cursors ----------------------------------------------------------------------------- */

int ent__mem_cursor_open(ent_btxn *txn, unsigned ti, ent_bcur **out)
{
    mtxn *t = (mtxn *)txn;
    mcur *c = calloc(1, sizeof *c);
    if (!c) return ent__err(ENT_NOMEM, "out of memory");
    c->t = t;
    /* the table list moves when the writer makes a table (realloc): readers index it under the lock */
    if (!t->write) pthread_rwlock_rdlock(&t->s->lock);
    c->tb = tbl(t, ti);
    if (!t->write) pthread_rwlock_unlock(&t->s->lock);
    *out = (ent_bcur *)c;
    return ENT_OK;
}

static int remember(mcur *c, mnode *n)
{
    size_t need = n->klen + n->dlen;
    if (need > c->cap) {
        char *p = realloc(c->key, need);
        if (!p) return ent__err(ENT_NOMEM, "out of memory");
        c->key = p;
        c->cap = need;
    }
    memcpy(c->key, n->k, need);
    c->klen = n->klen;
    c->dlen = n->dlen;
    c->positioned = 1;
    return ENT_OK;
}

/* Step from gn in direction dir (1 next, -1 prev) to the first node visible to the txn,
 * gn itself included. */
static mnode *settle(mcur *c, mnode *gn, int dir)
{
    while (gn && !ent__mem_visible(gn, c->t)) gn = dir > 0 ? ent__mem_next(gn) : ent__mem_prev(gn);
    return gn;
}

int ent__mem_cursor_get(ent_bcur *cur, int op, ent_slice *k, ent_slice *v)
{
    mcur *c = (mcur *)cur;
    mtable *tb = c->tb;
    mnode *gn = NULL;
    int rc = ENT_OK, dup = dup_of(tb);
    /* Readers under the lock; the writer, the only thread that changes trees, without it, once
     * its new nodes of this table are in the tree (which moves the cursor by key, below). */
    if (!c->t->write) pthread_rwlock_rdlock(&c->t->s->lock);
    else if (tb->npend) ent__mem_flush(c->t);
    /* The tree changed shape since the cursor last moved (the txn's own writes, a collection):
     * find the remembered position again by key. */
    if (c->positioned && c->mods != tb->mods) {
        c->node = ent__mem_lower(tb, c->key, c->klen, c->key + c->klen, c->dlen);
        if (c->node) {
            if (ent__mem_pair_cmp(c->node, c->key, c->klen, c->key + c->klen, c->dlen) != 0) {
                /* The remembered node is gone: NEXT lands on its successor, PREV before it. */
                if (op == ENT_CUR_NEXT) {
                    gn = settle(c, c->node, 1);
                    goto found;
                }
                c->node = ent__mem_prev(c->node);
                if (op == ENT_CUR_PREV) {
                    gn = settle(c, c->node, -1);
                    goto found;
                }
            }
        } else if (op == ENT_CUR_PREV) {
            gn = settle(c, ent__mem_last(tb), -1);
            goto found;
        } else if (op == ENT_CUR_NEXT) {
            gn = NULL;
            goto found;
        }
    }
    switch (op) {
    case ENT_CUR_FIRST: gn = settle(c, ent__mem_first(tb), 1); break;
    case ENT_CUR_LAST: gn = settle(c, ent__mem_last(tb), -1); break;
    case ENT_CUR_NEXT:
        gn = c->positioned && c->node ? settle(c, ent__mem_next(c->node), 1)
                                      : settle(c, ent__mem_first(tb), 1);
        break;
    case ENT_CUR_PREV:
        gn = c->positioned && c->node ? settle(c, ent__mem_prev(c->node), -1)
                                      : settle(c, ent__mem_last(tb), -1);
        break;
    case ENT_CUR_SEEK: gn = settle(c, ent__mem_lower(tb, k->data, k->len, NULL, 0), 1); break;
    case ENT_CUR_SEEK_PAIR:
        if (!dup) {
            rc = ent__err(ENT_INVALID, "SEEK_PAIR needs a DUPSORT table");
            goto out;
        }
        gn = settle(c, ent__mem_lower(tb, k->data, k->len, v->data, v->len), 1);
        break;
    case ENT_CUR_CURRENT:
        gn = c->positioned && c->node && ent__mem_visible(c->node, c->t) ? c->node : NULL;
        break;
    default: rc = ent__err(ENT_INVALID, "unknown cursor operation %d", op); goto out;
    }
found:
    if (!gn) {
        rc = ENT_NOTFOUND;
        goto out;
    }
    {
        mnode *n = gn;
        mver *ver = ent__mem_visible(n, c->t);
        /* Remembered first: a failed copy leaves the cursor where it was, so the call can be
         * retried. */
        if ((rc = remember(c, n))) goto out;
        c->node = gn;
        c->mods = tb->mods;
        k->data = n->k;
        k->len = n->klen;
        if (dup) {
            v->data = n->k + n->klen;
            v->len = n->dlen;
        } else {
            v->data = ver->val;
            v->len = ver->vlen;
        }
    }
out:
    if (!c->t->write) pthread_rwlock_unlock(&c->t->s->lock);
    return rc;
}

void ent__mem_cursor_close(ent_bcur *cur)
{
    mcur *c = (mcur *)cur;
    if (!c) return;
    free(c->key);
    free(c);
}
