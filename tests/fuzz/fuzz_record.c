/* Fuzz the decoders of records and events: msgpack as a damaged store hands them over, and events
 * as JSON text as a mirror receives them (ent_event_from_json()).
 * Input: one byte choosing the type, one choosing record, record as read, event, or event JSON,
 * then the bytes.
 * Properties: anything decodes or is refused with a known code and a message; a decoded record
 * encodes to bytes that decode to an entity encoding to the same bytes (one normalisation at most)
 * and renders as JSON; a decoded event renders as JSON and, when it carries data, its data encodes
 * and decodes the same way; an event parsed from JSON renders to JSON that parses back to the same
 * rendering, and the pretty rendering (another renderer) parses back to the same event. */
#include "fuzz_util.h"

#include "codec.h"
#include "store_int.h"

static ent_schema *schemas[2];

static const ent_type *pick_type(unsigned b, const ent_schema **sc)
{
    size_t n0, n1;
    if (!schemas[0]) {
        schemas[0] = fuzz_schema("shop");
        schemas[1] = fuzz_schema("fleet");
    }
    n0 = ent_schema_type_count(schemas[0]);
    n1 = ent_schema_type_count(schemas[1]);
    b %= (unsigned)(n0 + n1);
    *sc = b < n0 ? schemas[0] : schemas[1];
    return b < n0 ? ent_schema_type_at(schemas[0], b) : ent_schema_type_at(schemas[1], b - n0);
}

/* e's record is a fixed point of decode(encode(.)). */
static void check_record_stable(const ent_entity *e, const ent_type *t)
{
    void *r1 = NULL, *r2 = NULL;
    size_t n1 = 0, n2 = 0;
    ent_entity *d = NULL;
    char *j = NULL;
    FUZZ_CHECK(ent_entity_encode(&r1, &n1, e) == ENT_OK, "encode");
    FUZZ_CHECK(ent_entity_decode(&d, t, r1, n1) == ENT_OK, "own record refused");
    FUZZ_CHECK(ent_entity_encode(&r2, &n2, d) == ENT_OK, "encode");
    FUZZ_CHECK(n1 == n2 && memcmp(r1, r2, n1) == 0, "record changes on a second round trip (%zu, %zu bytes)", n1, n2);
    FUZZ_CHECK(ent_entity_to_json(&j, d, ENT_JSON_ENTITY) == ENT_OK, "to_json");
    (void)ent_entity_validate(d);
    free(j);
    free(r1);
    free(r2);
    ent_entity_free(d);
}

/* The pretty rendering (a tree, not the compact writer) parses back to an event whose compact
 * rendering is compact's: the two renderers agree. */
static void check_pretty(const ent_event *ev, const ent_schema *sc, const char *compact)
{
    char *pretty = NULL, *again = NULL;
    ent_event *back = NULL;
    FUZZ_CHECK(ent_event_to_json(&pretty, ev, ENT_JSON_PRETTY) == ENT_OK, "event to pretty JSON");
    FUZZ_CHECK(ent_event_from_json(&back, sc, pretty, strlen(pretty)) == ENT_OK, "an event's pretty JSON does not parse back: %s", pretty);
    FUZZ_CHECK(ent_event_to_json(&again, back, 0) == ENT_OK && !strcmp(again, compact),
               "pretty and compact renderings differ:\n%s\n%s", compact, again ? again : "");
    free(pretty);
    free(again);
    ent_event_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    const ent_schema *sc;
    const ent_type *t = pick_type(fuzz_u8(&in), &sc);
    unsigned mode = fuzz_u8(&in) % 4;
    int rc;
    if (mode == 0 || mode == 1) {
        ent_entity *e = NULL;
        /* mode 1: as the store reads it, with the defaults of fields the record lacks */
        rc = mode ? ent__record_read(&e, t, in.p, in.n) : ent_entity_decode(&e, t, in.p, in.n);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            uint64_t v = 0;
            FUZZ_CHECK(ent__record_version(&v, in.p, in.n) == ENT_OK && v == ent_entity_version(e),
                       "version read alone differs");
            check_record_stable(e, t);
        }
        ent_entity_free(e);
    } else if (mode == 3) {
        ent_event *ev = NULL, *ev2 = NULL;
        char *j1 = NULL, *j2 = NULL;
        rc = ent_event_from_json(&ev, sc, (const char *)in.p, in.n);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            FUZZ_CHECK(ent_event_to_json(&j1, ev, 0) == ENT_OK, "event to_json");
            rc = ent_event_from_json(&ev2, sc, j1, strlen(j1));
            FUZZ_CHECK(rc == ENT_OK, "an event's own JSON does not parse back: %s", j1);
            FUZZ_CHECK(ent_event_to_json(&j2, ev2, 0) == ENT_OK && !strcmp(j1, j2), "event JSON not stable:\n%s\n%s", j1, j2);
            check_pretty(ev, sc, j1);
            if (ev->data) check_record_stable(ev->data, ev->type);
        }
        free(j1);
        free(j2);
        ent_event_free(ev);
        ent_event_free(ev2);
    } else {
        ent_layout lay;
        ent_event *ev = NULL;
        memset(&lay, 0, sizeof lay);
        lay.schema = (ent_schema *)sc;
        rc = ent__event_decode(&ev, &lay, 7, in.p, in.n);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            char *j = NULL;
            FUZZ_CHECK(ev->seq == 7 && ev->type != NULL, "event fields");
            FUZZ_CHECK(ent_event_to_json(&j, ev, 0) == ENT_OK, "event to_json");
            {
                /* A mirror takes every event its primary prints (the relay sends this text). */
                ent_event *back = NULL;
                int prc = ent_event_from_json(&back, sc, j, strlen(j));
                FUZZ_CHECK(prc == ENT_OK, "a stored event's JSON does not parse back: %s", j);
                ent_event_free(back);
            }
            check_pretty(ev, sc, j);
            free(j);
            if (ev->data) check_record_stable(ev->data, ev->type);
        }
        ent_event_free(ev);
    }
    return 0;
}
