/* A store's identity and its role: the random id every store gets (meta "store_id", 16 bytes,
 * shown as a UUID), and for a mirror the primary it copies (meta "mirror_of") with the guard that
 * keeps every other writer out. Also the log position each schema version took effect at (meta
 * "schema_seq/<version>"), which a relay needs to ship a version ahead of its first event. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error_int.h"
#include "store_int.h"

void ent__random_uuid(uint8_t id[16])
{
    int fd;
    size_t got = 0;
    /* Tells copies and replays apart from their origin and names a primary's messages on NATS;
     * not security-sensitive. */
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, id, 16);
        got = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    if (got < 16) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        for (size_t i = 0; i < 16; i++, x = x * 6364136223846793005ULL + 1) id[i] = (uint8_t)(x >> 56);
    }
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

static void uuid_format(char out[37], const uint8_t id[16])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

int ent__store_id_load(ent_store *s, ent_txn *t, int writable)
{
    ent_slice v;
    uint8_t id[16];
    int rc = ent__meta_get(&v, t, "store_id");
    if (rc == ENT_OK && v.len == 16) {
        uuid_format(s->id, v.data);
        return ENT_OK;
    }
    if (rc != ENT_OK && rc != ENT_NOTFOUND) return rc;
    if (rc == ENT_OK) {
        /* Damage, not a store made before ids were kept: a writable open gave it a new id, and
         * to its relay's stream and its mirrors it became another store (check said ok). A
         * read-only open goes on without an id, so that the store can still be read and dumped;
         * verify names the damage. */
        if (!writable) return ENT_OK;
        return ent__err(ENT_CORRUPT, "store meta \"store_id\": %zu bytes, expected 16: the store's id is damaged "
                        "(a new one would make it another store to its relay and mirrors; dump it and load it "
                        "into a new store)", v.len);
    }
    /* A store made before ids were kept: a writable open gives it one, once. */
    if (!writable) return ENT_OK;
    ent__random_uuid(id);
    if ((rc = ent__meta_put(t, "store_id", id, sizeof id))) return rc;
    uuid_format(s->id, id);
    return ENT_OK;
}

int ent__mirror_load(ent_store *s, ent_txn *t, const char *mirror_of, int created)
{
    ent_slice v;
    int rc;
    if (created) {
        if (mirror_of) {
            if ((rc = ent__meta_put(t, "mirror_of", mirror_of, strlen(mirror_of)))) return rc;
            snprintf(s->mirror_of, sizeof s->mirror_of, "%s", mirror_of);
        }
        s->mirror_writer = mirror_of != NULL;
        return ENT_OK;
    }
    rc = ent__meta_get(&v, t, "mirror_of");
    if (rc == ENT_OK) {
        if (v.len >= sizeof s->mirror_of) return ent__err(ENT_CORRUPT, "%s: store meta \"mirror_of\" is damaged", s->path);
        memcpy(s->mirror_of, v.data, v.len);
        s->mirror_of[v.len] = '\0';
    } else if (rc != ENT_NOTFOUND) {
        return rc;
    }
    if (!mirror_of) return ENT_OK;
    /* Following a second primary would mix two logs. */
    if (!s->mirror_of[0])
        return ent__err(ENT_CONFLICT, "%s holds a store that is not a mirror; a mirror is created in "
                        "an empty directory", s->path);
    if (strcmp(s->mirror_of, mirror_of) != 0)
        return ent__err(ENT_CONFLICT, "%s is a mirror of store %s, not of %s", s->path, s->mirror_of, mirror_of);
    s->mirror_writer = 1;
    return ENT_OK;
}

int ent__mirror_guard(ent_txn *t)
{
    ent_slice v;
    if (!t->s->mirror_of[0] || t->mirror_apply) return ENT_OK;
    /* Promoted since this handle was opened (ent_mirror_promote() through another handle or
     * process): still refused, since the handle holds the mirror's id, which its relay would
     * publish under, but saying what to do. Read only on this refusal: a primary pays nothing. */
    if (ent__meta_get(&v, t, "mirror_of") == ENT_NOTFOUND)
        return ent__err(ENT_READONLY, "store %s was promoted to a primary after this handle opened it as a mirror "
                        "of store %s: close it and open it again to write", t->s->path, t->s->mirror_of);
    return ent__err(ENT_READONLY, "store %s is a mirror of store %s: it takes changes only from "
                    "its mirror process; write to the primary, or, if it is lost, promote this store (entity promote, "
                    "ent_mirror_promote())",
                    t->s->path, t->s->mirror_of);
}

int ent__schema_mark(ent_txn *t, uint32_t version)
{
    char key[64];
    uint64_t last = 0, txn = 0;
    int rc = ent__meta_get_pair(&last, &txn, t, "log");
    if (rc) return rc;
    snprintf(key, sizeof key, "schema_seq/%" PRIu32, version);
    return ent__meta_put_u64(t, key, last);
}

const char *ent_store_id(const ent_store *s) { return s ? s->id : ""; }
const char *ent_store_mirror_of(const ent_store *s) { return s && s->mirror_of[0] ? s->mirror_of : NULL; }
