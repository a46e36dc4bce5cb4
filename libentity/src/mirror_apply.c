/* Mirrors: opening one, applying a primary's transaction with the primary's seq, ts, txn and
 * version, and the position stored with it; promoting one to a primary (at the end).
 *
 * The state changes go through the ordinary write paths (ent_restore, ent_delete,
 * ent_last_id_raise), so indexes,
 * counters, refs and defaults are maintained by the one code that maintains them on the primary.
 * Those paths append events of their own (with this machine's clock and txn number); each is then
 * overwritten, in the same transaction, by the primary's event under the same seq. A write path
 * that appends no event, or another seq, means the mirror's state is not the primary's: the
 * transaction is refused (ENT_CORRUPT) rather than let the copies drift apart.
 * Meta "mirror_seq": the last applied seq and the transport position, one 16-byte value written in
 * the transaction it describes, so a mirror killed anywhere resumes exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "error_int.h"
#include "keys.h"
#include "mp_write.h"
#include "store_int.h"

int ent_mirror_open(ent_store **out, const char *path, const char *primary_id,
                    const ent_schema *schema, const ent_store_opts *opts)
{
    if (!out) return ent__err(ENT_INVALID, "ent_mirror_open: out is NULL");
    *out = NULL;
    if (!primary_id || !*primary_id || strlen(primary_id) > 36)
        return ent__err(ENT_INVALID, "ent_mirror_open: bad primary id");
    if (opts && opts->read_only) return ent__err(ENT_INVALID, "ent_mirror_open: a mirror's writer cannot be read-only");
    return ent__store_open(out, path, schema, opts, primary_id);
}

int ent_mirror_position(uint64_t *out_seq, uint64_t *out_pos, ent_store *s)
{
    ent_txn *t;
    uint64_t seq = 0, pos = 0;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (!s->mirror_of[0]) return ent__err(ENT_INVALID, "store %s is not a mirror", s->path);
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_READ))) return rc;
    /* Promoted since this handle opened it (another handle or process): the promotion dropped the
     * position, whose absence read as a mirror that had applied nothing (seq 0, ENT_OK). */
    {
        ent_slice v;
        rc = ent__meta_get(&v, t, "mirror_of");
        if (rc == ENT_NOTFOUND)
            rc = ent__err(ENT_INVALID, "store %s was promoted to a primary after this handle opened it as a mirror "
                          "of store %s: it has no mirror position (open it again)", s->path, s->mirror_of);
    }
    if (!rc) rc = ent__meta_get_pair(&seq, &pos, t, "mirror_seq");
    ent_txn_abort(t);
    if (rc) return rc;
    if (out_seq) *out_seq = seq;
    if (out_pos) *out_pos = pos;
    return ENT_OK;
}

/* The primary's event as the log stores it (log.c's record layout). */
static int event_pack(ent_buf *b, const ent_event *ev)
{
    int rc;
    b->n = 0;
    ent__event_head_pack(b, ev->ts, ev->txn, ev->type->name, &ev->key, ev->op, ev->version);
    if (ev->op == ENT_OP_DELETE || ev->op == ENT_OP_LAST_ID || !ev->data) ent__mpw_nil(b);
    /* create: every field it carries; update: the fields it names (a removed one as nil) */
    else if ((rc = ent__fields_pack(b, ev->data, ev->op == ENT_OP_CREATE ? NULL : ev->data->changed)))
        return rc;
    return ent__buf_ok(b);
}

static int diverged(const ent_event *ev, const char *why)
{
    return ent__err(ENT_CORRUPT, "mirror does not match the primary at seq %" PRIu64 " (%s %s): %s",
                    ev->seq, ev->type->name, ent__op_name(ev->op), why);
}

/* Change the entity of ev in t the way the primary did. */
static int apply_one(ent_txn *t, const ent_event *ev)
{
    ent_store *s = t->s;
    ent_entity *e = NULL;
    int rc;
    switch (ev->op) {
    case ENT_OP_CREATE:
        rc = ent_exists(s, t, ev->type, &ev->key);
        if (rc == ENT_OK) return diverged(ev, "the entity exists already");
        if (rc != ENT_NOTFOUND) return rc;
        if (!ev->data) return diverged(ev, "a create without data");
        if ((rc = ent_entity_dup(&e, ev->data))) return rc;
        break;
    case ENT_OP_UPDATE:
        /* The stored entity with the fields the event names replaced (a null one removed): what
         * the primary stored, since its state before the event is this mirror's. */
        rc = ent_get(&e, s, t, ev->type, &ev->key);
        if (rc == ENT_NOTFOUND) return diverged(ev, "the entity does not exist");
        if (rc) return rc;
        if (!ev->data) {
            ent_entity_free(e);
            return diverged(ev, "an update without data");
        }
        for (size_t i = 0; i < ev->type->n_fields; i++) {
            if (!ent__is_changed(ev->data, i)) continue;
            ent__val_clear(&e->slots[i]);
            if (ev->data->slots[i].k != EV_UNSET && (rc = ent__val_copy(&e->slots[i], &ev->data->slots[i]))) {
                ent_entity_free(e);
                return rc;
            }
        }
        break;
    case ENT_OP_DELETE:
        /* A delete's event carries the version after the entity's last, as verify's replay
         * checks: the mirror holds the primary's versions, so any other is not the primary's. */
        if (ev->version < 2) return diverged(ev, "a delete of a version below 2");
        rc = ent_delete(s, t, ev->type, &ev->key, ev->version - 1);
        if (rc == ENT_NOTFOUND) return diverged(ev, "the entity does not exist");
        if (rc == ENT_CONFLICT) return diverged(ev, "the entity is at another version");
        return rc;
    case ENT_OP_LAST_ID: {
        /* The primary logs a raise only when its counter went up; the mirror counts the same
         * ids (every create and raise of the primary's log), so its counter is below too. */
        uint64_t last = 0;
        if (ev->type->key != ENT_KEY_AUTO || ev->data || ev->version)
            return ent__err(ENT_INVALID, "event %" PRIu64 ": a last_id takes a type of auto ids, no version and no data", ev->seq);
        if ((rc = ent_last_id(&last, s, t, ev->type))) return rc;
        if (last >= ev->key.id) {
            char why[96];
            snprintf(why, sizeof why, "the id counter is at %" PRIu64 " already, the primary raised it from below", last);
            return diverged(ev, why);
        }
        return ent_last_id_raise(s, t, ev->type, ev->key.id);
    }
    default:
        return ent__err(ENT_INVALID, "event %" PRIu64 ": unknown operation %d", ev->seq, ev->op);
    }
    if ((rc = ent_entity_set_key(e, &ev->key)) || (rc = ent_entity_set_version(e, ev->version))) {
        ent_entity_free(e);
        return rc;
    }
    rc = ent_restore(s, t, e);
    ent_entity_free(e);
    return rc;
}

int ent_mirror_apply(ent_store *s, ent_event *const *evs, size_t n, uint64_t pos)
{
    ent_txn *t = NULL;
    ent_buf b = {NULL, 0, 0};
    uint64_t last = 0, last_txn = 0;
    int rc;
    if ((rc = ent__store_check(s))) return rc;
    if (!evs || !n) return ent__err(ENT_INVALID, "ent_mirror_apply: no events");
    for (size_t i = 0; i < n; i++) {
        if (!evs[i] || !evs[i]->type) return ent__err(ENT_INVALID, "ent_mirror_apply: event %zu is NULL", i);
        if (evs[i]->txn != evs[0]->txn || (i && evs[i]->seq != evs[i - 1]->seq + 1))
            return ent__err(ENT_INVALID, "ent_mirror_apply: events %" PRIu64 "..%" PRIu64
                            " are not one transaction in seq order", evs[0]->seq, evs[i]->seq);
    }
    if (!s->mirror_writer)
        return ent__err(ENT_READONLY, "store %s was not opened as a mirror (ent_mirror_open)", s->path);
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) return rc;
    t->mirror_apply = 1;
    /* The primary checked its refs when it wrote; a load there may have skipped them, and the
     * mirror must take what the primary took. */
    t->refs_unchecked = 1;
    /* Its unique values were checked at the primary's commit; inside the transaction two of them
     * may have moved between entities (ent_txn_defer_unique_checks). */
    t->uniques_deferred = 1;
    /* A store promoted since this handle opened it (ent_mirror_promote(), by another handle or
     * process) is a primary: the old primary's events must not go on after its own. */
    {
        ent_slice v;
        rc = ent__meta_get(&v, t, "mirror_of");
        if (rc == ENT_NOTFOUND) {
            rc = ent__err(ENT_READONLY, "store %s was promoted to a primary: it applies no more events of store %s",
                          s->path, s->mirror_of);
            goto out;
        }
        if (rc) goto out;
    }
    if ((rc = ent__log_counters(&last, &last_txn, t))) goto out;
    if (evs[n - 1]->seq <= last) {
        rc = ent__err(ENT_CONFLICT, "events %" PRIu64 "..%" PRIu64 " are applied already (mirror at seq %" PRIu64 ")",
                      evs[0]->seq, evs[n - 1]->seq, last);
        goto out;
    }
    if (evs[0]->seq != last + 1) {
        if (evs[0]->seq > last + 1)
            rc = ent__err(ENT_NOTFOUND, "seq %" PRIu64 " is missing: the mirror is at seq %" PRIu64
                          " and the next event is %" PRIu64, last + 1, last, evs[0]->seq);
        else
            rc = ent__err(ENT_CORRUPT, "transaction %" PRIu64 " starts at seq %" PRIu64 " inside what the mirror "
                          "applied (up to %" PRIu64 ")", evs[0]->txn, evs[0]->seq, last);
        goto out;
    }
    /* The primary numbers its transactions in commit order, and verify holds a log to that: a
     * number that goes back is not the primary's next transaction. */
    if (last_txn && evs[0]->txn <= last_txn) {
        rc = ent__err(ENT_CORRUPT, "seq %" PRIu64 ": transaction %" PRIu64 " after transaction %" PRIu64
                      ": the primary numbers its transactions in commit order", evs[0]->seq, evs[0]->txn, last_txn);
        goto out;
    }
    /* The primary's txn number: log_counters loaded the log state, the flush at commit writes it. */
    t->txn_id = evs[0]->txn;
    for (size_t i = 0; i < n; i++) {
        const ent_event *ev = evs[i];
        uint8_t kb[8];
        ent_slice k = {kb, 8}, v;
        if ((rc = apply_one(t, ev))) {
            /* ENT_CONFLICT means "applied already" to the caller; here it is a change this state
             * refuses (a unique value taken, found by fuzz_mirror: the follower then skipped the
             * transaction as a duplicate), so the events do not fit the mirror. */
            if (rc == ENT_CONFLICT) rc = diverged(ev, ent_errmsg());
            /* the others (a value this mirror's schema refuses, a full disk) name the event too:
             * "customer.badge: missing required field" alone did not say which one stopped it */
            else if (rc != ENT_CORRUPT)
                rc = ent__err_prefix(rc, "seq %" PRIu64 " (%s %s): ", ev->seq, ev->type->name, ent__op_name(ev->op));
            goto out;
        }
        if (t->failed) {
            rc = t->failed_rc;
            goto out;
        }
        if (t->log_last != ev->seq) {
            rc = diverged(ev, "the change is not one event here");
            goto out;
        }
        if ((rc = event_pack(&b, ev))) goto out;
        ent__enc_u64(kb, ev->seq);
        v.data = b.p;
        v.len = b.n;
        if ((rc = ent__bk_put(t, s->t_log, &k, &v, 0))) goto out;
        ent__log_keep(t, ev->seq, v.data, v.len); /* the primary's bytes, over the ones the apply kept */
    }
    if ((rc = ent__meta_put_pair(t, "mirror_seq", evs[n - 1]->seq, pos))) goto out;
    /* Here, not in the commit: its ENT_CONFLICT would say "applied already" to the caller. */
    if ((rc = ent__uniques_check_deferred(t))) {
        char why[512];
        snprintf(why, sizeof why, "%s", ent_errmsg());
        if (rc == ENT_CONFLICT && n == 1)
            rc = diverged(evs[0], why);
        else if (rc == ENT_CONFLICT)
            rc = ent__err(ENT_CORRUPT, "mirror does not match the primary at seq %" PRIu64 "..%" PRIu64
                          " (transaction %" PRIu64 "): %s", evs[0]->seq, evs[n - 1]->seq, evs[0]->txn, why);
        goto out;
    }
    rc = ent_txn_commit(t);
    t = NULL;
out:
    ent_txn_abort(t);
    ent__buf_free(&b);
    return rc;
}

/* ---- promotion ------------------------------------------------------------------------------
 * A mirror made the primary (failover: the primary's machine is lost). One write transaction
 * drops "mirror_of" and "mirror_seq" and gives the store the primary's id, so that its relay goes
 * on in the primary's stream under the same subjects, after the last seq the mirror applied (the
 * relay's history check refuses it when the stream holds more: relay.c resume()), and the other
 * mirrors of that primary follow it unchanged. The log state ("log": last seq, last txn) is the
 * primary's as of the last applied transaction, so seqs and txns go on from there with no gap. */

/* The primary's id, "xxxxxxxx-xxxx-...", as meta "store_id" holds it (16 bytes); -1 when it is
 * not one. */
static int uuid_parse(uint8_t out[16], const char *s)
{
    size_t o = 0;
    if (strlen(s) != 36) return -1;
    for (size_t i = 0; i < 36; i++) {
        int h;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return -1;
            continue;
        }
        /* lower case only, as store ids are printed: the relay's subjects carry the id as it is,
         * and one read back from the 16 bytes would name other subjects than the primary's */
        h = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
        if (h < 0) return -1;
        if (o & 1) out[o / 2] = (uint8_t)(out[o / 2] | h);
        else out[o / 2] = (uint8_t)(h << 4);
        o++;
    }
    return 0;
}

/* A `mirror` process (ent_follow_run(), in this process or another) holds an flock on
 * <dir>/mirror.lock for its whole run and applies with a handle of its own: promoted under it, the
 * store would take the stream's next events of the old primary after its own writes. The lock is
 * taken here for the promotion, so that none starts meanwhile either (it is refused, naming this
 * pid). *fd: -1 for a store without files (memory: no follower reaches a handle of the host's). */
static int promote_lock(int *fd, int *made, ent_store *s)
{
    char path[4096], pid[32] = "";
    int n;
    *fd = -1;
    *made = 0;
    if (!(ent__bk_caps(&s->bk) & ENT_BK_CAP_PERSISTENT) || !s->path || !*s->path) return ENT_OK;
    if ((size_t)snprintf(path, sizeof path, "%s/mirror.lock", ent_store_path(s)) >= sizeof path)
        return ent__err(ENT_INVALID, "store %s: path too long for its mirror lock", s->path);
    /* made: a promotion that fails takes back a file it made (a mirror made by a host, without a
     * `mirror` process, never had one). 0664 less the umask, as the store's files and a mirror's
     * own mirror.lock (nats_util.c) */
    while ((*fd = open(path, O_RDWR | O_CLOEXEC)) < 0 && errno == ENOENT) {
        if ((*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0664)) >= 0) {
            *made = 1;
            break;
        }
        if (errno != EEXIST) break;
    }
    if (*fd < 0)
        return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "store %s: opening %s: %s", s->path,
                        path, strerror(errno));
    while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EINTR) continue;
        if (e == EWOULDBLOCK) {
            n = (int)pread(*fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        close(*fd);
        *fd = -1;
        *made = 0; /* (a mirror that opened it meanwhile holds it) */
        if (e == EWOULDBLOCK)
            return ent__err(ENT_BUSY, "store %s: a mirror is running on it (pid %s); stop it before promoting the store",
                            s->path, pid[0] ? pid : "unknown");
        return ent__err(ENT_IO, "store %s: locking %s: %s", s->path, path, strerror(e));
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n) { /* only a refusal's message loses */
    }
    return ENT_OK;
}

/* Done: the store is no mirror, so its lock file has no use (removed before the unlock: a mirror
 * that opened it meanwhile finds its path gone, as ent_nats__lock_new_dir() checks); failed: the
 * file goes only when the promotion made it. */
static void promote_unlock(int fd, ent_store *s, int remove)
{
    char path[4096];
    if (fd < 0) return;
    if (remove && (size_t)snprintf(path, sizeof path, "%s/mirror.lock", ent_store_path(s)) < sizeof path) unlink(path);
    if (ftruncate(fd, 0) != 0) {
    }
    close(fd);
}

/* The highest auto id of type in t: its last stored key, and every create the log keeps. The id
 * counter is raised by each applied create already (crud.c): this holds it above them whatever
 * the counter record says, since a promoted store hands ids out, and an id the primary gave
 * (deleted since, too) must never name another entity. */
static int highest_id(uint64_t *out, ent_txn *t, const ent_type *type)
{
    ent_bcur *cur = NULL;
    ent_slice k, v;
    int rc;
    *out = 0;
    if ((rc = ent__bk_cursor_open(t, t->lay->data[type->pos], &cur))) return rc;
    rc = ent__bk_cursor_get(t->s, cur, ENT_CUR_LAST, &k, &v);
    ent__bk_cursor_close(t->s, cur);
    if (rc == ENT_OK && k.len == 8) *out = ent__dec_u64(k.data);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

static int log_highest_ids(uint64_t *max, ent_txn *t)
{
    ent_bcur *cur = NULL;
    ent_slice k, v;
    int rc, op = ENT_CUR_FIRST;
    if ((rc = ent__bk_cursor_open(t, t->s->t_log, &cur))) return rc;
    for (;; op = ENT_CUR_NEXT) {
        ent_event *ev = NULL;
        if ((rc = ent__bk_cursor_get(t->s, cur, op, &k, &v))) break;
        if (k.len != 8) continue;
        if ((rc = ent__event_decode(&ev, t->lay, ent__dec_u64(k.data), v.data, v.len))) {
            rc = ent__err_prefix(rc, "log seq %" PRIu64 ": ", ent__dec_u64(k.data));
            break;
        }
        if (ev->op == ENT_OP_CREATE && ev->key.kind == ENT_KEY_AUTO && ev->type->key == ENT_KEY_AUTO &&
            ev->key.id > max[ev->type->pos])
            max[ev->type->pos] = ev->key.id;
        ent_event_free(ev);
    }
    ent__bk_cursor_close(t->s, cur);
    return rc == ENT_NOTFOUND ? ENT_OK : rc;
}

int ent_mirror_promote(ent_store *s, int durability, uint64_t *out_seq)
{
    ent_txn *t = NULL;
    uint8_t id[16];
    uint64_t last = 0, last_txn = 0, *max = NULL;
    char primary[37];
    int rc, fd = -1, made = 0, done = 0;
    if (out_seq) *out_seq = 0;
    if ((rc = ent__store_check(s))) return rc;
    /* A store is made a mirror when it is created, never later: a handle that opened none */
    if (!s->mirror_of[0]) return ent__err(ENT_INVALID, "store %s is not a mirror: there is nothing to promote", s->path);
    if (s->read_only) return ent__err(ENT_READONLY, "store %s is open read-only: a promotion writes", s->path);
    if (durability != ENT_DURABILITY_STORED && (rc = ent__durability_check(durability, "ent_mirror_promote"))) return rc;
    if ((rc = promote_lock(&fd, &made, s))) return rc;
    if ((rc = ent_txn_begin(&t, s, ENT_TXN_WRITE))) goto out;
    /* Read in the transaction, not from the handle: another process may have promoted it since
     * this handle was opened, and a second promotion would be no failover but a mistake. */
    {
        ent_slice v;
        rc = ent__meta_get(&v, t, "mirror_of");
        if (rc == ENT_NOTFOUND) {
            rc = ent__err(ENT_INVALID, "store %s is not a mirror any more (promoted since this handle opened it): "
                          "there is nothing to promote", s->path);
            goto out;
        }
        if (rc) goto out;
        if (v.len >= sizeof primary) {
            rc = ent__err(ENT_CORRUPT, "%s: store meta \"mirror_of\" is damaged", s->path);
            goto out;
        }
        memcpy(primary, v.data, v.len);
        primary[v.len] = '\0';
    }
    /* It takes the primary's id: its relay publishes where the primary's did, and the primary's
     * other mirrors follow it. An id that is not a UUID (a host's own transport may name its
     * primary so) cannot be the store's. */
    if (uuid_parse(id, primary)) {
        rc = ent__err(ENT_INVALID, "store %s mirrors \"%s\", which is no store id (a UUID): it cannot take that id "
                      "as a primary", s->path, primary);
        goto out;
    }
    if ((rc = ent__log_counters(&last, &last_txn, t))) goto out;
    if (!(max = calloc(t->lay->schema->n_types ? t->lay->schema->n_types : 1, sizeof *max))) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = log_highest_ids(max, t))) goto out;
    for (size_t i = 0; i < t->lay->schema->n_types; i++) {
        const ent_type *type = t->lay->schema->types[i];
        uint64_t stored = 0;
        if (type->key != ENT_KEY_AUTO) continue;
        if ((rc = highest_id(&stored, t, type)) || (rc = ent__tcount_load(t, type))) goto out;
        if (stored > max[i]) max[i] = stored;
        if (max[i] > t->tc[type->pos].next_id) {
            t->tc[type->pos].next_id = max[i];
            t->tc[type->pos].dirty = 1;
        }
    }
    if ((rc = ent__meta_put(t, "store_id", id, sizeof id))) goto out;
    if ((rc = ent__meta_del(t, "mirror_of"))) goto out;
    if ((rc = ent__meta_del(t, "mirror_seq")) && rc != ENT_NOTFOUND) goto out;
    /* In the promotion's transaction: a mirror is often `lazy` (a copy the stream rebuilds), the
     * primary it becomes `durable`; stored by a second transaction, a kill between the two left a
     * primary in the mirror's mode that no second promotion could change. */
    if (durability != ENT_DURABILITY_STORED && (rc = ent__durability_put(t, durability))) goto out;
    rc = ent_txn_commit(t);
    t = NULL;
    if (rc) goto out;
    done = 1;
    /* A mirror often runs `lazy` or `none` (a read copy the stream rebuilds); a promotion lost to
     * a power cut after its new writes were relayed would leave the store a mirror whose log
     * holds seqs the stream has as another store's. (The relay syncs before it publishes too.) */
    if ((rc = ent_store_sync(s))) rc = ent__err_prefix(rc, "store %s promoted, but not synced: ", s->path);
    /* This handle is the primary's now (the caller alone uses it during the call); other handles
     * keep seeing a mirror until reopened, and their writes are refused saying so (mirror_guard). */
    snprintf(s->id, sizeof s->id, "%s", primary);
    s->mirror_of[0] = '\0';
    s->mirror_writer = 0;
    if (out_seq && !rc) *out_seq = last;
out:
    ent_txn_abort(t);
    free(max);
    promote_unlock(fd, s, done || made);
    return rc;
}
