/* The memory backend's tables as trees: byte-order keys, nodes with their chains of versions,
 * and the look-ups (hash probe, lower bound) every read, write and cursor starts from. Calls
 * nothing in the backend's other files.
 *
 * The tree is libbsd's intrusive red-black tree (<bsd/sys/tree.h>): the links live in the node,
 * so an insert allocates nothing and the one allocation of a new key (its node) is the caller's,
 * checked. The hash is a small open-addressing table whose only allocation is its growth, made
 * before anything changes (ent__mem_hash_reserve). */
#include "backend_memory_int.h"

/* ---- keys -------------------------------------------------------------------------------- */

int ent__mem_node_cmp(const mnode *x, const mnode *y)
{
    int c = ent__mem_bcmp(x->k, x->klen, y->k, y->klen);
    if (c) return c;
    return ent__mem_bcmp(x->k + x->klen, x->dlen, y->k + y->klen, y->dlen);
}

RB_GENERATE(ent__mtree, mnode, rb, ent__mem_node_cmp)

/* (k, d) against node n in tree order: no probe node to build (nor to allocate for long keys). */
int ent__mem_pair_cmp(const mnode *n, const void *k, size_t klen, const void *d, size_t dlen)
{
    int c = ent__mem_bcmp(k, klen, n->k, n->klen);
    if (c) return c;
    return ent__mem_bcmp(d ? d : "", dlen, n->k + n->klen, n->dlen);
}

/* Grow the array *arrp of elements of size `size` to hold at least need; doubles. -1 when out of
 * memory (the array is then as it was). */
int ent__mem_reserve(void *arrp, size_t *cap, size_t need, size_t size)
{
    void **arr = arrp;
    size_t nc = *cap ? *cap : 8;
    void *p;
    if (need <= *cap) return 0;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / size) return -1;
        nc *= 2;
    }
    if (!(p = realloc(*arr, nc * size))) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* ---- the hash of a plain table ----------------------------------------------------------- */

/* The node of key k in a plain table, or NULL. */
mnode *ent__mem_hash_find(const mtable *tb, const void *k, size_t klen)
{
    if (!tb->hash.n) return NULL;
    return ent__mem_hash_find_h(tb, k, klen, ent__mem_key_hash(k, klen));
}

/* The same, with the key's hash hv already known. */
mnode *ent__mem_hash_find_h(const mtable *tb, const void *k, size_t klen, uint32_t hv)
{
    const mhash *h = &tb->hash;
    size_t i, mask;
    if (!h->n) return NULL;
    mask = h->cap - 1;
    for (i = hv & mask;; i = (i + 1) & mask) {
        mnode *n = h->slot[i];
        if (!n) return NULL;
        if (n->hash == hv && n->klen == klen && memcmp(n->k, k, klen) == 0) return n;
    }
}

static void hash_place(mnode **slot, size_t mask, mnode *n)
{
    size_t i = n->hash & mask;
    while (slot[i]) i = (i + 1) & mask;
    slot[i] = n;
}

/* Room for `more` more nodes (at most half the slots used), so that the adds after it cannot
 * fail. -1 when out of memory; the table is then unchanged. Lock held exclusively. */
int ent__mem_hash_reserve(mtable *tb, size_t more)
{
    mhash *h = &tb->hash;
    size_t nc;
    mnode **ns;
    if ((h->n + more) * 2 <= h->cap) return 0;
    nc = h->cap ? h->cap * 2 : 16;
    while ((h->n + more) * 2 > nc) {
        if (nc > SIZE_MAX / 4 / sizeof *ns) return -1;
        nc *= 2;
    }
    if (!(ns = calloc(nc, sizeof *ns))) return -1;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slot[i]) hash_place(ns, nc - 1, h->slot[i]);
    free(h->slot);
    h->slot = ns;
    h->cap = nc;
    return 0;
}

/* Add n (its hash set); after ent__mem_hash_reserve. */
void ent__mem_hash_add(mtable *tb, mnode *n)
{
    hash_place(tb->hash.slot, tb->hash.cap - 1, n);
    tb->hash.n++;
}

/* Remove n, shifting back the nodes after it in its run so every probe still reaches its node
 * (no tombstones). */
static void hash_del(mhash *h, mnode *n)
{
    size_t mask = h->cap - 1, i = n->hash & mask, j;
    while (h->slot[i] != n) i = (i + 1) & mask;
    h->slot[i] = NULL;
    h->n--;
    for (j = (i + 1) & mask; h->slot[j]; j = (j + 1) & mask) {
        size_t home = h->slot[j]->hash & mask;
        /* Move slot j back into the hole at i unless its home lies cyclically in (i, j]. */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            h->slot[i] = h->slot[j];
            h->slot[j] = NULL;
            i = j;
        }
    }
}

/* ---- nodes ------------------------------------------------------------------------------- */

/* Insert n (not in the tree yet; for a plain table after ent__mem_hash_reserve). Lock held
 * exclusively. Allocates nothing. */
void ent__mem_node_insert(mtable *tb, mnode *n)
{
    RB_INSERT(ent__mtree, &tb->tree, n);
    if (tb->hashed) ent__mem_hash_add(tb, n); /* n->hash set when it was made */
    tb->nnodes++;
    tb->mods++;
}

/* Remove n from its table and free it. Lock held exclusively. */
void ent__mem_node_remove(mtable *tb, mnode *n)
{
    tb->mods++;
    if (tb->hashed) hash_del(&tb->hash, n);
    RB_REMOVE(ent__mtree, &tb->tree, n);
    tb->nnodes--;
    ent__mem_node_free(n);
}

void ent__mem_node_free(mnode *n)
{
    mver *v = n->head;
    while (v) {
        mver *o = v->older;
        free(v);
        v = o;
    }
    /* n->k points into n's own allocation */
    free(n);
}

/* Post-order: a node is freed after both its subtrees (the depth is at most 2 log2 of the count). */
static void free_subtree(mnode *n)
{
    if (!n) return;
    free_subtree(RB_LEFT(n, rb));
    free_subtree(RB_RIGHT(n, rb));
    ent__mem_node_free(n);
}

void ent__mem_table_free(mtable *tb)
{
    free_subtree(RB_ROOT(&tb->tree));
    free(tb->hash.slot);
    free(tb->name);
    free(tb);
}

/* First node >= (k, d) in tree order. */
mnode *ent__mem_lower(mtable *tb, const void *k, size_t klen, const void *d, size_t dlen)
{
    mnode *x = RB_ROOT(&tb->tree), *res = NULL;
    while (x) {
        int c = ent__mem_pair_cmp(x, k, klen, d, dlen);
        if (c < 0) {
            res = x;
            x = RB_LEFT(x, rb);
        } else if (c > 0) {
            x = RB_RIGHT(x, rb);
        } else {
            return x;
        }
    }
    return res;
}
