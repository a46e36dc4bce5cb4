/* The mirror's side of one stream message, without the transport: follow.c receives messages from
 * JetStream and hands each here; the fuzz harness (tests/fuzz/fuzz_mirror.c) hands it messages it
 * made itself, with no server. */
#ifndef ENT_NATS_MIRROR_MSG_H
#define ENT_NATS_MIRROR_MSG_H

#include "nats_util.h"

typedef struct ent_nats__mirror {
    const char *path;          /* the mirror store's directory */
    const ent_follow_opts *o;  /* stream (named in messages), store_opts, on_event, log */
    char primary[ENATS_ID_MAX + 1];
    ent_store *m;              /* NULL until the first schema message (or an existing mirror) */
    ent_subscriber *cb;        /* o->on_event's registration on m */
    uint64_t applied, pos;     /* last applied seq, and the stream position stored with it */
    ent_event **txn;           /* events of the transaction being received */
    size_t n, cap;
    int checked;               /* the stream's seq `applied` was found to be the one applied */
    uint64_t gap;              /* the missing seq, when the last message returned a gap (else 0) */
} ent_nats__mirror;

/* Open (or, with schema, create or evolve) the mirror store at path; reads applied and pos. */
int ent_nats__mirror_open(ent_nats__mirror *f, const ent_schema *schema);
/* Close the store (its subscriber goes with it). */
void ent_nats__mirror_close(ent_nats__mirror *f);
/* Forget the events of a transaction half received (a new consumer sends them again). */
void ent_nats__mirror_txn_clear(ent_nats__mirror *f);
/* Close and free everything; f may be opened again. */
void ent_nats__mirror_fini(ent_nats__mirror *f);

/* The stream's message m carries seq, which the mirror applied: ENT_OK when it is the event the
 * mirror applied as seq (ent_nats__same_event; sets checked), ENT_CONFLICT naming both when it is
 * another history's (the primary restored from a backup, or a copy of it): applying what follows
 * it would mix two histories. */
int ent_nats__mirror_same(ent_nats__mirror *f, natsMsg *m, uint64_t seq);

/* One message of the stream at stream position spos: a schema message (subject ending ".schema",
 * header Entity-Schema-Version) creates or evolves the mirror; an event (header Entity-Seq, the
 * body as ent_event_to_json() prints it) is buffered until the one with Entity-Txn-End, and the
 * transaction is then applied as one (ent_mirror_apply). Duplicates are skipped.
 * Returns ENT_OK; ENT_NOTFOUND (a seq, or the schema version an event carries in its header
 * Entity-Schema-Version, is missing: the message names it), ENT_CORRUPT (a message
 * that is not what the relay sends, an event before any schema), ENT_CONFLICT (the copy of the
 * last applied seq, met first, is another history's: ent_nats__mirror_same), the store's codes. */
int ent_nats__mirror_msg(ent_nats__mirror *f, natsMsg *msg, uint64_t spos);

#endif
