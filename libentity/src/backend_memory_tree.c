/* The memory backend's tables as trees: byte-order keys, nodes with their chains of versions,
 * which version a transaction sees, and the look-ups (hash probe, lower bound) every read, write
 * and cursor starts from. Calls nothing in the backend's other files. */
#include "backend_memory_int.h"

/* ---- keys -------------------------------------------------------------------------------- */

gint ent__mem_node_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    const mnode *x = a, *y = b;
    int c = ent__mem_bcmp(x->k, x->klen, y->k, y->klen);
    (void)unused;
    if (c) return c;
    return ent__mem_bcmp(x->k + x->klen, x->dlen, y->k + y->klen, y->dlen);
}

/* FNV-1a over the key bytes. */
guint ent__mem_node_hash(gconstpointer p)
{
    const mnode *n = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n->klen; i++) h = (h ^ (uint8_t)n->k[i]) * 16777619u;
    return h;
}

gboolean ent__mem_node_eq(gconstpointer a, gconstpointer b)
{
    const mnode *x = a, *y = b;
    return x->klen == y->klen && memcmp(x->k, y->k, x->klen) == 0;
}

/* The node of key k in a plain table, or NULL. */
mnode *ent__mem_hash_find(const mtable *tb, const void *k, size_t klen)
{
    mnode probe;
    probe.k = (char *)k;
    probe.klen = klen;
    probe.dlen = 0;
    return g_hash_table_lookup(tb->hash, &probe);
}

/* Remove n from its table (the tree frees it). Lock held exclusively. */
void ent__mem_node_remove(mtable *tb, mnode *n)
{
    tb->mods++;
    if (tb->hash) g_hash_table_remove(tb->hash, n);
    g_tree_remove(tb->tree, n);
}

void ent__mem_node_free(gpointer p)
{
    mnode *n = p;
    mver *v = n->head;
    while (v) {
        mver *o = v->older;
        free(v);
        v = o;
    }
    /* n->k points into n's own allocation */
    free(n);
}

/* First node >= (k, d) in tree order. */
GTreeNode *ent__mem_lower(mtable *tb, const void *k, size_t klen, const void *d, size_t dlen)
{
    mnode probe;
    char buf[PROBE_STACK];
    probe.klen = klen;
    probe.dlen = dlen;
    if (klen + dlen <= sizeof buf) {
        memcpy(buf, k, klen);
        if (dlen) memcpy(buf + klen, d, dlen);
        probe.k = buf;
        return g_tree_lower_bound(tb->tree, &probe);
    }
    probe.k = malloc(klen + dlen);
    if (!probe.k) return NULL;
    memcpy(probe.k, k, klen);
    if (dlen) memcpy(probe.k + klen, d, dlen);
    {
        GTreeNode *n = g_tree_lower_bound(tb->tree, &probe);
        free(probe.k);
        return n;
    }
}
