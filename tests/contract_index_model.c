/* Indexes of random schemas against a model, on every backend.
 *
 * diff_backends proves the backends give the same answers; this proves the answers are right. Each
 * seed makes a schema (loaded from JSON) whose type holds one field of every indexable kind (bool,
 * int, uint, float, string, bytes, timestamp, a ref to an auto or a string key), each unique,
 * indexed or neither, some required, some with a default, limits or an enum, beside nested arrays
 * of maps that no index looks at; then random creates, updates (fields set and unset), replaces
 * and deletes with values at the kinds' edges (INT64_MIN, UINT64_MAX, -0.0, NaN, infinities,
 * subnormals, timestamps before 1970, strings with NUL, empty, UTF-8, bytes 0x00 and 0xff), each
 * return code predicted by the model (limits, enums, required, refs, unique values). After every
 * few ops, every index is read against the model: exact look-ups of every pool value, find_unique,
 * and ranges between every pair of pool values (inclusive from, exclusive to, reversed bounds,
 * equal bounds, open ends, bounds of a neighbouring kind), both directions, whole and in pages
 * resumed by token; plus counts and a scan. Some runs of ops share one write txn, committed or
 * aborted, and are read inside it (its own writes) and after. On a backend whose store outlives
 * its handle, the store is then evolved 4 times at random (indexes added, dropped, made unique;
 * defaults added, changed, removed: entities stored without the field read with the new one;
 * limits and enums relaxed; and changes to refuse: a min raised, an enum value removed, required
 * without a default, a unique index over repeated values), each outcome predicted; a refused one
 * must leave the store as it was. Deterministic: seeds are fixed. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#include "store_int.h"
#include "test_util.h"

static const char *backend = "lmdb";

/* ---- rng ---------------------------------------------------------------------------------- */

static uint64_t rs;
static unsigned rn(unsigned n)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (unsigned)(rs % n);
}

/* ---- value pools, per kind ---------------------------------------------------------------- */

enum { K_BOOL, K_INT, K_UINT, K_FLOAT, K_STR, K_BYTES, K_TS, K_REF, NK };
static const char *const kname[NK] = {"bool", "int", "uint", "float", "string", "bytes", "timestamp", "ref"};

static const int64_t ints[] = {INT64_MIN, INT64_MIN + 1, -4294967296LL, -256, -1, 0, 1, 255, 256,
                               9007199254740993LL, INT64_MAX - 1, INT64_MAX};
static const uint64_t uints[] = {0, 1, 127, 128, 255, 256, 4294967296ULL, (uint64_t)INT64_MAX,
                                 (uint64_t)INT64_MAX + 1, (uint64_t)INT64_MAX + 2, UINT64_MAX - 1, UINT64_MAX};
static const double floats[] = {-INFINITY, -DBL_MAX, -9223372036854775808.0, -1e10, -1.0, -0.5, -DBL_MIN, -4.9e-324,
                                -0.0, 0.0, 4.9e-324, DBL_MIN, 0.5, 1.0, 1e10, 9007199254740992.0,
                                9223372036854775808.0, 18446744073709551616.0, DBL_MAX, INFINITY, NAN};
static const int64_t tss[] = {INT64_MIN, INT64_MIN + 1, -31536000000000000LL, -1000000000LL, -1, 0, 1,
                              1700000000000000000LL, INT64_MAX};
typedef struct blob {
    const char *p;
    size_t n;
} blob;
#define B(s) {s, sizeof(s) - 1}
static char longstr[301];
static const blob strs[] = {B(""), B("\0"), B("\0\0"), B("a"), B("a\0"), B("a\0b"), B("a\x01"), B("ab"),
                            B("b"), B("z"), B("\x7f"), B("\xc3\xa9"), B("\xe2\x82\xac"), B("\xf0\x9f\x98\x80"),
                            {longstr, 300}};
static const blob bytess[] = {B(""), B("\0"), B("\0\0"), B("\x01"), B("a"), B("\x7f"), B("\x80"), B("\xff"),
                              B("\xff\xff")};
/* ref targets: ids 1..5 exist (6 never), or string keys */
static const uint64_t ref_ids[] = {1, 2, 3, 4, 5, 6};
static const blob ref_strs[] = {B("a"), B("ab"), B("b"), B("\xc3\xa9"), B("z"), B("zz")}; /* "zz" never */
#define NREF_TARGETS 5

#define N(a) (int)(sizeof(a) / sizeof(a[0]))
static int ref_auto; /* this seed's ref target has auto keys */

static int pool_n(int k)
{
    switch (k) {
    case K_BOOL: return 2;
    case K_INT: return N(ints);
    case K_UINT: return N(uints);
    case K_FLOAT: return N(floats);
    case K_STR: return N(strs);
    case K_BYTES: return N(bytess);
    case K_TS: return N(tss);
    default: return ref_auto ? N(ref_ids) : N(ref_strs);
    }
}

static int sgn(int c) { return (c > 0) - (c < 0); }
static int bcmp_(const blob *a, const blob *b)
{
    int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
    return c ? sgn(c) : (a->n > b->n) - (a->n < b->n);
}
static int fcmp(double a, double b) /* index order: -0.0 is 0.0, NaN above everything */
{
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

/* Index order of pool values x, y of kind k. */
static int vcmp(int k, int x, int y)
{
    switch (k) {
    case K_BOOL: return x - y;
    case K_INT: return (ints[x] > ints[y]) - (ints[x] < ints[y]);
    case K_UINT: return (uints[x] > uints[y]) - (uints[x] < uints[y]);
    case K_FLOAT: return fcmp(floats[x], floats[y]);
    case K_STR: return bcmp_(&strs[x], &strs[y]);
    case K_BYTES: return bcmp_(&bytess[x], &bytess[y]);
    case K_TS: return (tss[x] > tss[y]) - (tss[x] < tss[y]);
    default:
        if (ref_auto) return (ref_ids[x] > ref_ids[y]) - (ref_ids[x] < ref_ids[y]);
        return bcmp_(&ref_strs[x], &ref_strs[y]);
    }
}

static ent_value pool_value(int k, int x)
{
    switch (k) {
    case K_BOOL: return ent_value_bool(x);
    case K_INT: return ent_value_int(ints[x]);
    case K_UINT: return ent_value_uint(uints[x]);
    case K_FLOAT: return ent_value_float(floats[x]);
    case K_STR: {
        ent_value v = ent_value_string("");
        v.v.s.ptr = strs[x].p;
        v.v.s.len = strs[x].n;
        return v;
    }
    case K_BYTES: return ent_value_bytes(bytess[x].p, bytess[x].n);
    case K_TS: return ent_value_timestamp(tss[x]);
    default:
        if (ref_auto) return ent_value_uint(ref_ids[x]);
        {
            ent_value v = ent_value_string("");
            v.v.s.ptr = ref_strs[x].p;
            v.v.s.len = ref_strs[x].n;
            return v;
        }
    }
}

/* The same value as a neighbouring kind the look-up calls accept (an int for a uint or a
 * timestamp, an int for a float when exact), or 0 when there is none. */
static int neighbour_value(ent_value *out, int k, int x)
{
    switch (k) {
    case K_UINT:
        if (uints[x] > (uint64_t)INT64_MAX) return 0;
        *out = ent_value_int((int64_t)uints[x]);
        return 1;
    case K_INT:
        if (ints[x] < 0) return 0;
        *out = ent_value_uint((uint64_t)ints[x]);
        return 1;
    case K_TS: *out = ent_value_int(tss[x]); return 1;
    case K_FLOAT:
        if (!(floats[x] == floor(floats[x])) || fabs(floats[x]) > 1e15) return 0;
        *out = ent_value_int((int64_t)floats[x]);
        return 1;
    default: return 0;
    }
}

/* ---- the random schema -------------------------------------------------------------------- */

typedef struct fspec {
    int mode;    /* 0 none, 1 indexed, 2 unique */
    int req;     /* required */
    int def;     /* default: pool index, or -1 */
    int lo, hi;  /* limits: pool indexes, or -1 */
    unsigned en; /* K_STR: enum as a bit set of pool indexes, 0 none */
    const ent_field *f;
} fspec;

static fspec fs[NK];
static int key_auto;
static char schema_json[8192];

static size_t jput(size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(schema_json + at, sizeof schema_json - at, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n >= 0 && (size_t)n < sizeof schema_json - at);
    return at + (size_t)n;
}

static size_t json_blob(size_t at, const blob *b)
{
    at = jput(at, "\"");
    for (size_t i = 0; i < b->n; i++) {
        unsigned char c = (unsigned char)b->p[i];
        if (c < 0x20 || c == 0x7f) at = jput(at, "\\u%04x", c);
        else at = jput(at, "%c", c);
    }
    return jput(at, "\"");
}

static size_t json_value(size_t at, int k, int x)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    switch (k) {
    case K_BOOL: return jput(at, x ? "true" : "false");
    case K_INT: return jput(at, "%" PRId64, ints[x]);
    case K_UINT: return uints[x] > (uint64_t)INT64_MAX ? jput(at, "\"%" PRIu64 "\"", uints[x]) : jput(at, "%" PRIu64, uints[x]);
    case K_FLOAT: return jput(at, floats[x] == 0 && signbit(floats[x]) ? "-0.0" : "%.17g", floats[x]);
    case K_STR: return json_blob(at, &strs[x]);
    case K_TS: return jput(at, "%" PRId64, tss[x]);
    case K_BYTES: {
        const unsigned char *p = (const unsigned char *)bytess[x].p;
        size_t n = bytess[x].n;
        at = jput(at, "\"");
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
            at = jput(at, "%c%c%c%c", b64[v >> 18], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                      i + 2 < n ? b64[v & 63] : '=');
        }
        return jput(at, "\"");
    }
    default: return at;
    }
}

/* Can pool value x of kind k be written in a schema (a default, a limit)? */
static int schema_writable(int k, int x)
{
    if (k == K_FLOAT) return isfinite(floats[x]);
    if (k == K_STR) return memchr(strs[x].p, 0, strs[x].n) == NULL;
    return 1;
}

/* Does pool value x of kind k pass field spec s's limits and enum? */
static int value_ok(int k, const fspec *s, int x)
{
    if (k == K_FLOAT && isnan(floats[x]) && (s->lo >= 0 || s->hi >= 0)) return 0;
    if (s->lo >= 0 && vcmp(k, x, s->lo) < 0) return 0;
    if (s->hi >= 0 && vcmp(k, x, s->hi) > 0) return 0;
    if (s->en && !(s->en >> x & 1)) return 0;
    return 1;
}

static void random_specs(void)
{
    key_auto = rn(2);
    ref_auto = rn(2);
    for (int k = 0; k < NK; k++) {
        fspec *s = &fs[k];
        memset(s, 0, sizeof *s);
        s->def = s->lo = s->hi = -1;
        s->mode = k == K_REF ? 1 + (rn(3) == 0) : (int)rn(3);
        if (k != K_BOOL && k != K_REF && k != K_STR && k != K_BYTES && rn(3) == 0) {
            int a = (int)rn((unsigned)pool_n(k)), b = (int)rn((unsigned)pool_n(k));
            if (schema_writable(k, a) && schema_writable(k, b)) {
                if (vcmp(k, a, b) > 0) {
                    int x = a;
                    a = b;
                    b = x;
                }
                if (rn(3)) s->lo = a;
                if (rn(3)) s->hi = b;
            }
        }
        if (k == K_STR && rn(4) == 0)
            for (int x = 0; x < pool_n(k); x++)
                if (schema_writable(k, x) && rn(2)) s->en |= 1u << x;
        if (k != K_REF && rn(3) == 0) {
            int d = (int)rn((unsigned)pool_n(k));
            if (schema_writable(k, d) && value_ok(k, s, d)) s->def = d;
        }
        s->req = rn(5) == 0;
    }
}

/* schema_json: version `version` of the schema fs[] describes. */
static void write_schema(int version)
{
    size_t at = 0;
    at = jput(at, "{\"schema\":\"m\",\"version\":%d,\"types\":{\"r\":{\"key\":\"%s\",\"fields\":{}},"
                  "\"t\":{\"key\":\"%s\",\"fields\":{",
              version, ref_auto ? "auto" : "string", key_auto ? "auto" : "string");
    for (int k = 0; k < NK; k++) {
        const fspec *s = &fs[k];
        at = jput(at, "%s\"f_%s\":{\"id\":%d,\"type\":\"%s\"", k ? "," : "", kname[k], k + 1, kname[k]);
        if (k == K_REF) at = jput(at, ",\"to\":\"r\"");
        if (s->mode == 1 && k != K_REF) at = jput(at, ",\"indexed\":true");
        if (s->mode == 2) at = jput(at, ",\"unique\":true");
        if (s->req) at = jput(at, ",\"required\":true");
        if (s->lo >= 0) at = json_value(jput(at, ",\"min\":"), k, s->lo);
        if (s->hi >= 0) at = json_value(jput(at, ",\"max\":"), k, s->hi);
        if (s->en) {
            int first = 1;
            at = jput(at, ",\"enum\":[");
            for (int x = 0; x < pool_n(k); x++)
                if (s->en >> x & 1) {
                    at = json_blob(jput(at, first ? "" : ","), &strs[x]);
                    first = 0;
                }
            at = jput(at, "]");
        }
        if (s->def >= 0) at = json_value(jput(at, ",\"default\":"), k, s->def);
        at = jput(at, "}");
    }
    /* nested values no index looks at, with defaults inside */
    at = jput(at, ",\"lines\":{\"id\":20,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{"
                  "\"q\":{\"id\":1,\"type\":\"int\",\"default\":7},\"tags\":{\"id\":2,\"type\":\"array\","
                  "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}},"
                  "\"extra\":{\"id\":21,\"type\":\"map\"}}}}}");
}

/* ---- the model ---------------------------------------------------------------------------- */

enum { NKEYS = 24, OPS = 260, CHECK_EVERY = 20, EVOLUTIONS = 4 };

typedef struct ment {
    int live;
    uint64_t id; /* auto key */
    int has[NK];
    int val[NK]; /* pool index */
} ment;

static ment model[NKEYS + 1];
static char skeys[NKEYS][8];
static uint64_t next_id;

static ent_store *S;
static ent_txn *TX; /* the write txn ops run in, or NULL: each op its own */
static ent_schema *SC;
static char dir[ENT_TEST_PATH_MAX];
static const ent_type *TT, *TR;
static char trail[256]; /* where a mismatch happened */

/* primary key order of model slots a, b */
static int pkcmp(int a, int b)
{
    if (key_auto) return (model[a].id > model[b].id) - (model[a].id < model[b].id);
    return sgn(strcmp(skeys[a], skeys[b]));
}

static ent_key slot_key(int i)
{
    return key_auto ? ent_key_id(model[i].id) : ent_key_str(skeys[i]);
}

static int slot_of(const ent_entity *e)
{
    ent_key k = ent_entity_key(e);
    for (int i = 0; i < NKEYS; i++) {
        if (!model[i].live) continue;
        if (key_auto ? k.id == model[i].id : (k.len == strlen(skeys[i]) && !memcmp(k.str, skeys[i], k.len)))
            return i;
    }
    return -1;
}

static void set_field(ent_entity *e, int k, int x)
{
    const ent_field *f = fs[k].f;
    switch (k) {
    case K_BOOL: ENT_OK_(ent_entity_field_set_bool(e, f, x)); break;
    case K_INT: ENT_OK_(ent_entity_field_set_int(e, f, ints[x])); break;
    case K_UINT: ENT_OK_(ent_entity_field_set_uint(e, f, uints[x])); break;
    case K_FLOAT: ENT_OK_(ent_entity_field_set_float(e, f, floats[x])); break;
    case K_STR: ENT_OK_(ent_entity_field_set_string(e, f, strs[x].p, strs[x].n)); break;
    case K_BYTES: ENT_OK_(ent_entity_field_set_bytes(e, f, bytess[x].p, bytess[x].n)); break;
    case K_TS: ENT_OK_(ent_entity_field_set_timestamp(e, f, tss[x])); break;
    default:
        if (ref_auto) ENT_OK_(ent_entity_field_set_uint(e, f, ref_ids[x]));
        else ENT_OK_(ent_entity_field_set_string(e, f, ref_strs[x].p, ref_strs[x].n));
    }
}

/* The pool index an entity's field holds, or -1 when unset. */
static int get_field(const ent_entity *e, int k)
{
    const ent_field *f = fs[k].f;
    if (!ent_entity_field_has(e, f)) return -1;
    for (int x = 0; x < pool_n(k); x++) {
        int b;
        int64_t i;
        uint64_t u;
        double d;
        const char *p;
        const void *q;
        size_t n;
        switch (k) {
        case K_BOOL:
            if (ent_entity_field_get_bool(&b, e, f) == ENT_OK && (b != 0) == x) return x;
            break;
        case K_INT:
            if (ent_entity_field_get_int(&i, e, f) == ENT_OK && i == ints[x]) return x;
            break;
        case K_UINT:
            if (ent_entity_field_get_uint(&u, e, f) == ENT_OK && u == uints[x]) return x;
            break;
        case K_FLOAT:
            if (ent_entity_field_get_float(&d, e, f) == ENT_OK &&
                (isnan(d) ? isnan(floats[x]) : d == floats[x] && signbit(d) == signbit(floats[x])))
                return x;
            break;
        case K_STR:
            if (ent_entity_field_get_string(&p, &n, e, f) == ENT_OK && n == strs[x].n && !memcmp(p, strs[x].p, n))
                return x;
            break;
        case K_BYTES:
            if (ent_entity_field_get_bytes(&q, &n, e, f) == ENT_OK && n == bytess[x].n && !memcmp(q, bytess[x].p, n))
                return x;
            break;
        case K_TS:
            if (ent_entity_field_get_timestamp(&i, e, f) == ENT_OK && i == tss[x]) return x;
            break;
        default:
            if (ref_auto) {
                if (ent_entity_field_get_uint(&u, e, f) == ENT_OK && u == ref_ids[x]) return x;
            } else if (ent_entity_field_get_string(&p, &n, e, f) == ENT_OK && n == ref_strs[x].n &&
                       !memcmp(p, ref_strs[x].p, n)) {
                return x;
            }
        }
    }
    return -2; /* a value outside the pool: never written */
}

/* What field k of m reads as: its stored value, else the field's default (an entity stored
 * before the default came in an evolution reads with it), else -1 (unset). */
static int eff_of(const fspec *spec, const ment *m, int k)
{
    return m->has[k] ? m->val[k] : spec[k].def;
}
static int eff(const ment *m, int k) { return eff_of(fs, m, k); }

/* The entity matches model slot i. */
static void check_entity(const ent_entity *e, int i)
{
    for (int k = 0; k < NK; k++) {
        int got = get_field(e, k), want = eff(&model[i], k);
        if (got != want) fprintf(stderr, "\n  %s: slot %d field %s: got %d, want %d\n", trail, i, kname[k], got, want);
        CU_ASSERT_EQUAL(got, want);
    }
}

/* The code writing model entity `m` (slot i) would give. */
static int predict(const ment *m, int i)
{
    int invalid = 0, conflict = 0, noref = 0;
    for (int k = 0; k < NK; k++) {
        if (!m->has[k]) {
            if (fs[k].req) invalid = 1;
            continue;
        }
        if (!value_ok(k, &fs[k], m->val[k])) invalid = 1;
        if (k == K_REF && m->val[k] >= NREF_TARGETS) noref = 1;
        if (fs[k].mode == 2)
            for (int j = 0; j < NKEYS; j++)
                if (j != i && model[j].live && eff(&model[j], k) >= 0 && vcmp(k, eff(&model[j], k), m->val[k]) == 0)
                    conflict = 1;
    }
    if (invalid || noref) return ENT_INVALID;
    return conflict ? ENT_CONFLICT : ENT_OK;
}

static void apply_defaults(ment *m)
{
    for (int k = 0; k < NK; k++)
        if (!m->has[k] && fs[k].def >= 0) {
            m->has[k] = 1;
            m->val[k] = fs[k].def;
        }
}

static int random_value(int k)
{
    /* mostly values that pass, so that the store fills */
    for (int tries = 0; tries < 4; tries++) {
        int x = (int)rn((unsigned)pool_n(k));
        if (value_ok(k, &fs[k], x) && (k != K_REF || x < NREF_TARGETS)) return x;
    }
    return (int)rn((unsigned)pool_n(k));
}

static void random_fields(ent_entity *e, ment *m, int all)
{
    for (int k = 0; k < NK; k++) {
        unsigned r = rn(10);
        if (!all && r < 5) continue; /* unchanged */
        if (r < 8 || (fs[k].req && fs[k].def < 0 && rn(4))) {
            int x = random_value(k);
            set_field(e, k, x);
            m->has[k] = 1;
            m->val[k] = x;
        } else {
            ENT_OK_(ent_entity_field_unset(e, fs[k].f));
            m->has[k] = 0;
        }
    }
    if (rn(3) == 0) ENT_OK_(ent_entity_set_json(e, "lines", "[{\"tags\":[[\"x\"],[]]},{\"q\":-1}]"));
    if (rn(3) == 0) ENT_OK_(ent_entity_set_json(e, "extra", "{\"a\":[1,{\"b\":null}],\"c\":\"\"}"));
}

static void check_rc(int rc, int want, const char *what)
{
    if (rc != want)
        fprintf(stderr, "\n  %s: %s = %d, predicted %d (%s)\n", trail, what, rc, want, ent_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, want);
}

static void op_create(void)
{
    int i = (int)rn(NKEYS), rc, want;
    ment m;
    ent_entity *e;
    if (key_auto) {
        for (i = 0; i < NKEYS && model[i].live; i++) {}
        if (i == NKEYS) return;
    }
    memset(&m, 0, sizeof m);
    ENT_OK_(ent_entity_new(&e, TT));
    if (!key_auto) {
        ent_key k = ent_key_str(skeys[i]);
        ENT_OK_(ent_entity_set_key(e, &k));
    }
    random_fields(e, &m, 1);
    apply_defaults(&m);
    want = !key_auto && model[i].live ? ENT_CONFLICT : predict(&m, i);
    if (want == ENT_CONFLICT && !key_auto && model[i].live) {
        /* the key taken: a validation failure may come first */
        int p = predict(&m, i);
        rc = ent_create(S, TX, e);
        if (p == ENT_INVALID && rc == ENT_INVALID) want = ENT_INVALID;
    } else {
        rc = ent_create(S, TX, e);
    }
    check_rc(rc, want, "create");
    if (rc == ENT_OK) {
        m.live = 1;
        if (key_auto) {
            m.id = ent_entity_key(e).id;
            CU_ASSERT(m.id > next_id);
            next_id = m.id;
        }
        model[i] = m;
    }
    ent_entity_free(e);
}

static int live_slot(void)
{
    int n = 0, pick;
    for (int i = 0; i < NKEYS; i++) n += model[i].live;
    if (!n) return -1;
    pick = (int)rn((unsigned)n);
    for (int i = 0; i < NKEYS; i++)
        if (model[i].live && pick-- == 0) return i;
    return -1;
}

static void op_update(int replace)
{
    int i = live_slot(), rc, want;
    ent_entity *e = NULL;
    ent_key k;
    ment m;
    if (i < 0) return;
    k = slot_key(i);
    ENT_OK_(ent_get(&e, S, TX, TT, &k));
    check_entity(e, i);
    m = model[i];
    apply_defaults(&m); /* read with them, so written with them */
    if (replace) {
        memset(m.has, 0, sizeof m.has);
        for (int x = 0; x < NK; x++) ENT_OK_(ent_entity_field_unset(e, fs[x].f));
        random_fields(e, &m, 1);
    } else {
        random_fields(e, &m, 0);
    }
    apply_defaults(&m);
    want = predict(&m, i);
    rc = replace ? ent_replace(S, TX, e, ent_entity_version(e)) : ent_update(S, TX, e, ent_entity_version(e));
    check_rc(rc, want, replace ? "replace" : "update");
    if (rc == ENT_OK) model[i] = m;
    ent_entity_free(e);
}

static void op_delete(void)
{
    int i = live_slot();
    ent_key k;
    if (i < 0) return;
    k = slot_key(i);
    check_rc(ent_delete(S, TX, TT, &k, ENT_VERSION_ANY), ENT_OK, "delete");
    model[i].live = 0;
}

/* ---- reading every index against the model ------------------------------------------------ */

/* Integers a caller may give for a float field, most of them no double's value (2^53 + 1, 2^64 - 1):
 * bounds and look-ups compare them exactly. */
static const int64_t int_probes[] = {9007199254740993LL, 9007199254740992LL, 9007199254740991LL, -9007199254740993LL,
                                     INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1};
static const uint64_t uint_probes[] = {UINT64_MAX, (uint64_t)1 << 63, ((uint64_t)1 << 63) + 1, ((uint64_t)1 << 53) + 1};
static ent_value probe; /* the bound model_range() reads for lo or hi -2 */
/* Strings no key is, bounding ranges over refs to string keys (lo or hi -3): "" and longer than a key. */
static char zs[301], as[301];
static const blob key_probes[] = {{"", 0}, {zs, 300}, {as, 300}, {as, 256}};
static blob bprobe;

/* Sign of (d - probe), exact; d is no NaN. */
static int cmp_probe(double d)
{
    if (probe.kind == ENT_KIND_INT) {
        int64_t i = probe.v.i, t;
        if (d >= 9223372036854775808.0) return 1;
        if (d < -9223372036854775808.0) return -1;
        t = (int64_t)d;
        if (t != i) return t < i ? -1 : 1;
        return d - (double)t > 0 ? 1 : d - (double)t < 0 ? -1 : 0;
    } else {
        uint64_t u = probe.v.u, t;
        if (d >= 18446744073709551616.0) return 1;
        if (d < 0) return -1;
        t = (uint64_t)d;
        if (t != u) return t < u ? -1 : 1;
        return d - (double)t > 0 ? 1 : 0;
    }
}

/* Model slots whose field k is in [lo, hi) (lo/hi pool indexes, -1 open), in index order. */
static int model_range(int *out, int k, int lo, int hi, int reverse)
{
    int n = 0;
    for (int i = 0; i < NKEYS; i++) {
        ment *m = &model[i];
        int v = m->live ? eff(m, k) : -1;
        if (v < 0) continue;
        if (lo >= 0 && vcmp(k, v, lo) < 0) continue;
        if (hi >= 0 && vcmp(k, v, hi) >= 0) continue;
        if (lo == -2 && (isnan(floats[v]) || cmp_probe(floats[v]) < 0)) continue;
        if (lo == -3 && bcmp_(&ref_strs[v], &bprobe) < 0) continue;
        if (hi == -3 && bcmp_(&ref_strs[v], &bprobe) >= 0) continue;
        if (hi == -2 && (isnan(floats[v]) || cmp_probe(floats[v]) >= 0)) continue;
        /* an open float range stops below NaN unless it starts at NaN */
        if (k == K_FLOAT && hi < 0 && isnan(floats[v]) && !(lo >= 0 && isnan(floats[lo]))) continue;
        out[n++] = i;
    }
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0; b--) {
            int c = vcmp(k, eff(&model[out[b - 1]], k), eff(&model[out[b]], k));
            if (c == 0) c = pkcmp(out[b - 1], out[b]);
            if (c <= 0) break;
            int x = out[b];
            out[b] = out[b - 1];
            out[b - 1] = x;
        }
    if (reverse)
        for (int a = 0; a < n / 2; a++) {
            int x = out[a];
            out[a] = out[n - 1 - a];
            out[n - 1 - a] = x;
        }
    return n;
}

/* Read an iterator to its end into slots; each entity checked against the model. */
static int drain(int *got, int max, ent_iter *it, int n)
{
    ent_entity *e;
    int rc;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        int i = slot_of(e);
        if (i >= 0) check_entity(e, i);
        if (n < max) got[n] = i;
        n++;
        ent_entity_free(e);
    }
    if (rc != ENT_NOTFOUND) fprintf(stderr, "\n  %s: ent_iter_next = %d (%s)\n", trail, rc, ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
    return n;
}

static void compare(const int *got, int ng, const int *want, int nw, const char *what)
{
    int same = ng == nw;
    for (int i = 0; same && i < nw; i++) same = got[i] == want[i];
    if (!same) {
        fprintf(stderr, "\n  %s: %s: got %d entities, want %d:", trail, what, ng, nw);
        for (int i = 0; i < ng && i < NKEYS * 2; i++) fprintf(stderr, " %d", got[i]);
        fprintf(stderr, " / want");
        for (int i = 0; i < nw; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
    }
    CU_ASSERT(same);
}

static void read_range(int k, int lo, int hi, const ent_value *from, const ent_value *to, int reverse, int page)
{
    int want[NKEYS], got[NKEYS * 2], nw = model_range(want, k, lo, hi, reverse), ng = 0;
    char token[1024] = "";
    for (int pages = 0; pages <= NKEYS + 1; pages++) {
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        ent_iter *it = NULL;
        int before = ng, more;
        o.from = from;
        o.to = to;
        o.flags = reverse ? ENT_ITER_REVERSE : 0;
        o.limit = (uint64_t)page;
        o.resume = token[0] ? token : NULL;
        check_rc(ent_range(&it, S, TX, fs[k].f, &o), ENT_OK, "ent_range");
        ng = drain(got, NKEYS * 2, it, ng);
        more = page ? ent_iter_more(it) : 0;
        if (ng > before) snprintf(token, sizeof token, "%s", ent_iter_resume(it));
        ent_iter_free(it);
        if (!page) break;
        CU_ASSERT_EQUAL(more, ng < nw); /* more after this page exactly when the model has more */
        if (ng == before || !more) break;
    }
    {
        char what[96];
        snprintf(what, sizeof what, "range %s [%d, %d) reverse %d page %d", kname[k], lo, hi, reverse, page);
        compare(got, ng, want, nw, what);
    }
}

static void check_indexes(void)
{
    uint64_t n = 0;
    int live = 0;
    for (int i = 0; i < NKEYS; i++) live += model[i].live;
    ENT_OK_(ent_count(&n, S, TX, TT));
    CU_ASSERT_EQUAL(n, (uint64_t)live);
    { /* a scan holds every entity as the model has it */
        ent_iter *it = NULL;
        int got[NKEYS * 2], ng;
        ENT_OK_(ent_scan(&it, S, TX, TT, NULL, NULL));
        ng = drain(got, NKEYS * 2, it, 0);
        ent_iter_free(it);
        CU_ASSERT_EQUAL(ng, live);
        for (int i = 0; i < ng && i < NKEYS * 2; i++) CU_ASSERT(got[i] >= 0);
    }
    for (int k = 0; k < NK; k++) {
        if (!fs[k].mode) continue;
        snprintf(trail + strlen(trail), 8, " %s", kname[k]);
        for (int x = 0; x < pool_n(k); x++) { /* exact look-ups */
            ent_value v = pool_value(k, x), nv;
            int want[NKEYS], got[NKEYS * 2], nw = 0, ng;
            ent_iter *it = NULL;
            for (int i = 0; i < NKEYS; i++)
                if (model[i].live && eff(&model[i], k) >= 0 && vcmp(k, eff(&model[i], k), x) == 0) want[nw++] = i;
            for (int a = 1; a < nw; a++)
                for (int b = a; b > 0 && pkcmp(want[b - 1], want[b]) > 0; b--) {
                    int t = want[b];
                    want[b] = want[b - 1];
                    want[b - 1] = t;
                }
            check_rc(ent_find(&it, S, TX, fs[k].f, &v), ENT_OK, "ent_find");
            ng = drain(got, NKEYS * 2, it, 0);
            ent_iter_free(it);
            compare(got, ng, want, nw, "find");
            if (neighbour_value(&nv, k, x)) {
                check_rc(ent_find(&it, S, TX, fs[k].f, &nv), ENT_OK, "ent_find (neighbour kind)");
                ng = drain(got, NKEYS * 2, it, 0);
                ent_iter_free(it);
                compare(got, ng, want, nw, "find (neighbour kind)");
            }
            if (fs[k].mode == 2) {
                ent_entity *e = NULL;
                int rc = ent_find_unique(&e, S, TX, fs[k].f, &v);
                check_rc(rc, nw ? ENT_OK : ENT_NOTFOUND, "ent_find_unique");
                if (rc == ENT_OK) CU_ASSERT_EQUAL(slot_of(e), want[0]);
                ent_entity_free(e);
            }
        }
        for (int p = 0; k == K_FLOAT && p < N(int_probes) + N(uint_probes); p++) { /* integer bounds */
            int want[NKEYS], got[NKEYS * 2], nw = 0, ng;
            ent_iter *it = NULL;
            ent_entity *e = NULL;
            probe = p < N(int_probes) ? ent_value_int(int_probes[p]) : ent_value_uint(uint_probes[p - N(int_probes)]);
            for (int i = 0; i < NKEYS; i++) { /* look-up: the doubles equal to it, if any */
                int v = model[i].live ? eff(&model[i], k) : -1;
                if (v >= 0 && !isnan(floats[v]) && cmp_probe(floats[v]) == 0) want[nw++] = i;
            }
            for (int a = 1; a < nw; a++)
                for (int b = a; b > 0 && pkcmp(want[b - 1], want[b]) > 0; b--) {
                    int t = want[b];
                    want[b] = want[b - 1];
                    want[b - 1] = t;
                }
            check_rc(ent_find(&it, S, TX, fs[k].f, &probe), ENT_OK, "ent_find (integer)");
            ng = drain(got, NKEYS * 2, it, 0);
            ent_iter_free(it);
            compare(got, ng, want, nw, "find (integer for a float)");
            if (fs[k].mode == 2) {
                int rc = ent_find_unique(&e, S, TX, fs[k].f, &probe);
                check_rc(rc, nw ? ENT_OK : ENT_NOTFOUND, "ent_find_unique (integer)");
                ent_entity_free(e);
            }
            for (int rev = 0; rev < 2; rev++) {
                read_range(k, -2, -1, &probe, NULL, rev, (int)rn(3));
                read_range(k, -1, -2, NULL, &probe, rev, (int)rn(3));
            }
        }
        for (int p = 0; k == K_REF && !ref_auto && p < N(key_probes); p++) { /* bounds no key is */
            ent_value b = ent_value_string("");
            bprobe = key_probes[p];
            b.v.s.ptr = bprobe.p;
            b.v.s.len = bprobe.n;
            { /* a look-up of a string no key is finds nothing, as a range bounded by it holds no such key */
                ent_iter *it = NULL;
                ent_entity *e = NULL;
                int got[1];
                check_rc(ent_find(&it, S, TX, fs[k].f, &b), ENT_OK, "ent_find (a string no key is)");
                if (it) CU_ASSERT_EQUAL(drain(got, 1, it, 0), 0);
                ent_iter_free(it);
                if (fs[k].mode == 2) {
                    check_rc(ent_find_unique(&e, S, TX, fs[k].f, &b), ENT_NOTFOUND, "ent_find_unique (a string no key is)");
                    ent_entity_free(e);
                }
            }
            for (int rev = 0; rev < 2; rev++) {
                int x = (int)rn((unsigned)pool_n(k));
                ent_value pv = pool_value(k, x);
                read_range(k, -3, -1, &b, NULL, rev, (int)rn(3));
                read_range(k, -1, -3, NULL, &b, rev, (int)rn(3));
                read_range(k, -3, x, &b, &pv, rev, (int)rn(3));
                read_range(k, x, -3, &pv, &b, rev, (int)rn(3));
            }
        }
        for (int lo = -1; lo < pool_n(k); lo++) /* ranges */
            for (int hi = -1; hi < pool_n(k); hi++) {
                ent_value from = pool_value(k, lo < 0 ? 0 : lo), to = pool_value(k, hi < 0 ? 0 : hi);
                int rev = (int)rn(2), page = rn(3) == 0 ? 1 + (int)rn(3) : 0;
                read_range(k, lo, hi, lo < 0 ? NULL : &from, hi < 0 ? NULL : &to, rev, page);
                if (lo >= 0 && hi >= 0 && rn(8) == 0) { /* bounds of the neighbouring kind */
                    ent_value nf, nt;
                    if (neighbour_value(&nf, k, lo) && neighbour_value(&nt, k, hi))
                        read_range(k, lo, hi, &nf, &nt, rev, page);
                }
            }
        trail[strlen(trail) - strlen(kname[k]) - 1] = '\0';
    }
}

/* ---- evolutions ---------------------------------------------------------------------------- */

/* nf: a random next version of the specs in fs (indexes added, dropped, made unique or not,
 * defaults added, changed, removed, limits and enums relaxed; sometimes a change the store must
 * refuse: a min raised or added, an enum value removed, a field made required without a default,
 * a required field's default removed). Returns what opening the store with it must give. */
static int evolve_specs(fspec *nf)
{
    int refused = 0, conflict = 0;
    for (int k = 0; k < NK; k++) {
        const fspec *o = &fs[k];
        fspec *s = &nf[k];
        *s = *o;
        if (rn(3) == 0) s->mode = k == K_REF ? 1 + (int)rn(2) : (int)rn(3);
        if (s->lo >= 0 && rn(4) == 0) s->lo = -1;
        if (s->hi >= 0 && rn(4) == 0) s->hi = -1;
        if ((k == K_INT || k == K_UINT || k == K_FLOAT || k == K_TS) && rn(24) == 0) {
            int x = (int)rn((unsigned)pool_n(k));
            if (schema_writable(k, x) && (s->hi < 0 || vcmp(k, x, s->hi) <= 0)) {
                s->lo = x;
                refused |= o->lo < 0 || vcmp(k, x, o->lo) > 0; /* not when it is the old min or below */
            }
        }
        if (k == K_STR && s->en) {
            int x = (int)rn((unsigned)pool_n(k)), n = 0;
            for (int i = 0; i < pool_n(k); i++) n += (int)(s->en >> i & 1);
            if (rn(4) == 0 && schema_writable(k, x)) {
                s->en |= 1u << x;
            } else if (rn(6) == 0 && n >= 2 && (s->en >> x & 1)) {
                s->en &= ~(1u << x);
                refused = 1;
            } else if (rn(6) == 0) {
                s->en = 0;
            }
        }
        if (k != K_REF && rn(4) == 0) {
            int d = (int)rn((unsigned)pool_n(k));
            if (rn(3) == 0) s->def = -1;
            else if (schema_writable(k, d) && value_ok(k, s, d)) s->def = d;
        }
        if (s->def >= 0 && !value_ok(k, s, s->def)) s->def = -1; /* a raised min passed it */
        if (rn(24) == 0) s->req = !s->req;
        if (s->req && !o->req && s->def < 0) refused = 1;
        if (o->req && s->req && o->def >= 0 && s->def < 0) refused = 1;
    }
    if (refused) return ENT_SCHEMA;
    /* a unique index built (new, or its field's default changed) over values that repeat */
    for (int k = 0; k < NK; k++) {
        if (nf[k].mode != 2) continue;
        for (int i = 0; i < NKEYS; i++)
            for (int j = i + 1; j < NKEYS; j++) {
                int a = model[i].live ? eff_of(nf, &model[i], k) : -1, b = model[j].live ? eff_of(nf, &model[j], k) : -1;
                if (a >= 0 && b >= 0 && vcmp(k, a, b) == 0) conflict = 1;
            }
    }
    return conflict ? ENT_CONFLICT : ENT_OK;
}

static void bind_fields(void)
{
    TT = ent_store_type(S, "t");
    TR = ent_store_type(S, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(TT);
    for (int k = 0; k < NK; k++) {
        char name[32];
        snprintf(name, sizeof name, "f_%s", kname[k]);
        fs[k].f = ent_type_field(TT, name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(fs[k].f);
    }
}

/* Reopen the store with the next version; on a refusal, with its own schema: the model must hold
 * either way (a refused evolution changes nothing). */
static void evolve_store(int *version)
{
    static char prev_json[sizeof schema_json];
    fspec nf[NK], old[NK];
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int want = evolve_specs(nf), rc;
    o.backend = backend;
    o.durability = ENT_NONE;
    memcpy(old, fs, sizeof old);
    write_schema(*version);
    memcpy(prev_json, schema_json, sizeof prev_json);
    memcpy(fs, nf, sizeof fs);
    write_schema(*version + 1);
    ent_store_close(S);
    S = NULL;
    ent_schema_free(SC);
    SC = NULL;
    if (ent_schema_load_json(&SC, schema_json, strlen(schema_json), "model") != ENT_OK)
        fprintf(stderr, "\n  %s: %s\n  %s\n", trail, ent_errmsg(), schema_json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(SC);
    rc = ent_store_open(&S, dir, SC, &o);
    if (rc != want)
        fprintf(stderr, "\n  %s: evolution = %d (%s), predicted %d\n  from %s\n  to   %s\n", trail, rc, ent_errmsg(),
                want, prev_json, schema_json);
    CU_ASSERT_EQUAL_FATAL(rc, want);
    if (rc == ENT_OK) {
        (*version)++;
    } else {
        memcpy(fs, old, sizeof fs);
        write_schema(*version);
        ENT_OK_(ent_store_open(&S, dir, NULL, &o));
        CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(S)), (uint32_t)*version);
    }
    bind_fields();
}

/* ---- the run ------------------------------------------------------------------------------- */

static void run_seed(uint64_t seed)
{
    static ment saved[NKEYS + 1];
    uint64_t saved_id = 0;
    int txn_ops = 0, version = 1;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    rs = seed * 0x9e3779b97f4a7c15ULL + 1;
    memset(model, 0, sizeof model);
    next_id = 0;
    random_specs();
    write_schema(1);
    o.backend = backend;
    o.durability = ENT_NONE;
    ENT_TEST_MKDTEMP(dir, "index-model");
    if (ent_schema_load_json(&SC, schema_json, strlen(schema_json), "model") != ENT_OK)
        fprintf(stderr, "\n  seed %" PRIu64 ": %s\n  %s\n", seed, ent_errmsg(), schema_json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(SC);
    ENT_OK_(ent_store_open(&S, dir, SC, &o));
    bind_fields();
    for (int i = 0; i < NREF_TARGETS; i++) { /* the ref targets */
        ent_entity *e;
        ENT_OK_(ent_entity_new(&e, TR));
        if (!ref_auto) {
            ent_key k = {ENT_KEY_STRING, 0, ref_strs[i].p, ref_strs[i].n};
            ENT_OK_(ent_entity_set_key(e, &k));
        }
        ENT_OK_(ent_create(S, NULL, e));
        if (ref_auto) CU_ASSERT_EQUAL(ent_entity_key(e).id, ref_ids[i]);
        ent_entity_free(e);
    }
    for (int op = 0; op < OPS; op++) {
        unsigned r = rn(10);
        snprintf(trail, sizeof trail, "seed %" PRIu64 " op %d%s", seed, op, TX ? " (in a txn)" : "");
        if (!TX && rn(8) == 0) { /* a few ops in one write txn, committed or aborted */
            ENT_OK_(ent_txn_begin(&TX, S, ENT_TXN_WRITE));
            memcpy(saved, model, sizeof model);
            saved_id = next_id;
            txn_ops = 1 + (int)rn(6);
        }
        if (r < 4) op_create();
        else if (r < 7) op_update(0);
        else if (r < 8) op_update(1);
        else op_delete();
        if (op % CHECK_EVERY == CHECK_EVERY - 1) check_indexes(); /* inside a txn: its own writes */
        if (TX && --txn_ops == 0) {
            if (rn(3) == 0) {
                ent_txn_abort(TX);
                memcpy(model, saved, sizeof model);
                next_id = saved_id;
            } else {
                ENT_OK_(ent_txn_commit(TX));
            }
            TX = NULL;
        }
        if (CU_get_number_of_failures()) {
            fprintf(stderr, "  schema: %s\n", schema_json);
            break;
        }
    }
    if (TX) ENT_OK_(ent_txn_commit(TX));
    TX = NULL;
    /* evolutions, where the store outlives its handle */
    for (int round = 0; round < EVOLUTIONS && (S->bk.lim.caps & ENT_BK_CAP_PERSISTENT) && !CU_get_number_of_failures();
         round++) {
        snprintf(trail, sizeof trail, "seed %" PRIu64 " evolution %d", seed, round);
        evolve_store(&version);
        check_indexes();
        for (int op = 0; op < OPS / 4 && !CU_get_number_of_failures(); op++) {
            unsigned r = rn(10);
            snprintf(trail, sizeof trail, "seed %" PRIu64 " evolution %d op %d", seed, round, op);
            if (r < 4) op_create();
            else if (r < 7) op_update(0);
            else if (r < 8) op_update(1);
            else op_delete();
        }
        check_indexes();
        {
            uint64_t problems = 1;
            CU_ASSERT_EQUAL(ent_store_verify(&problems, S, NULL, NULL), ENT_OK);
            CU_ASSERT_EQUAL(problems, 0);
        }
        if (CU_get_number_of_failures()) fprintf(stderr, "  schema: %s\n", schema_json);
    }
    if (!CU_get_number_of_failures()) {
        snprintf(trail, sizeof trail, "seed %" PRIu64 " end", seed);
        check_indexes();
        uint64_t problems = 1;
        CU_ASSERT_EQUAL(ent_store_verify(&problems, S, NULL, NULL), ENT_OK);
        CU_ASSERT_EQUAL(problems, 0);
    }
    ent_test_store_close(&S, &SC, dir);
}

/* ---- unique fields with defaults, and values past the key limit ---------------------------- */

static const char udef_json[] =
    "{\"schema\":\"udef\",\"version\":1,\"types\":{\"d\":{\"key\":\"auto\",\"fields\":{"
    "\"code\":{\"id\":1,\"type\":\"int\",\"unique\":true,\"default\":7},"
    "\"z\":{\"id\":2,\"type\":\"float\",\"unique\":true,\"default\":-0.0},"
    "\"s\":{\"id\":3,\"type\":\"string\",\"unique\":true},"
    "\"name\":{\"id\":4,\"type\":\"string\"}}}}}";

/* A d with code (< 0: left to its default), z (has_z 0: left to its default) and s (NULL: none);
 * key 0: a new one, else a replace of that one. */
static int udef_put(ent_txn *t, uint64_t key, long code, int has_z, double z, const char *s)
{
    ent_entity *e = NULL;
    int rc;
    ENT_OK_(ent_entity_new(&e, ent_store_type(S, "d")));
    if (key) {
        ent_key k = ent_key_id(key);
        ENT_OK_(ent_entity_set_key(e, &k));
    }
    if (code >= 0) ENT_OK_(ent_entity_set_int(e, "code", code));
    if (has_z) ENT_OK_(ent_entity_set_float(e, "z", z));
    if (s) ENT_OK_(ent_entity_set_string(e, "s", s));
    ENT_OK_(ent_entity_set_string(e, "name", "n"));
    rc = key ? ent_replace(S, t, e, ENT_VERSION_ANY) : ent_create(S, t, e);
    ent_entity_free(e);
    return rc;
}

static uint64_t udef_holder(ent_txn *t, const char *field, ent_value v)
{
    ent_entity *e = NULL;
    uint64_t id = 0;
    int rc = ent_find_unique(&e, S, t, ent_type_field(ent_store_type(S, "d"), field), &v);
    CU_ASSERT_TRUE(rc == ENT_OK || rc == ENT_NOTFOUND);
    if (rc == ENT_OK) id = ent_entity_key(e).id;
    ent_entity_free(e);
    return id;
}

static int udef_two_defaults(ent_txn *t, void *payload)
{
    int rc;
    (void)payload;
    if ((rc = ent_txn_defer_unique_checks(t))) return rc;
    if ((rc = udef_put(t, 0, -1, 1, 40.0, NULL))) return rc;  /* code 7, held by d 3: waits */
    return udef_put(t, 3, 11, 1, 3.0, NULL);                   /* d 3 lets 7 go */
}

/* Two creates that leave a unique field to its default: the second is refused, and the message
 * says the value was the field's default (the caller gave none: "value 7 is taken by d 1" left it
 * wondering where 7 came from); a default of -0.0 is the value 0.0; a deferred transaction and a
 * closure where the holder lets the default go; strings equal up to the backend's key limit and
 * different after it are refused as too long, never taken for one value. */
static void t_unique_defaults_and_limits(void)
{
    ent_txn *t = NULL;
    uint64_t problems = 1, seq0 = 0, seq1 = 0;
    char a[600], b[600];
    ent_test_store_open(&S, &SC, dir, backend, udef_json, "unique-defaults");
    ENT_OK_(udef_put(NULL, 0, -1, 0, 0, NULL)); /* d 1: code 7, z -0.0 */
    ENT_CHECK_RC(udef_put(NULL, 0, -1, 1, 1.0, NULL), ENT_CONFLICT);
    ENT_ASSERT_MSG("d.code: value 7 (the field's default) is taken by d 1");
    ENT_CHECK_RC(udef_put(NULL, 0, 8, 0, 0, NULL), ENT_CONFLICT);
    ENT_ASSERT_MSG("d.z: value -0.0 (the field's default) is taken by d 1");
    ENT_CHECK_RC(udef_put(NULL, 0, 8, 1, 0.0, NULL), ENT_CONFLICT);
    ENT_ASSERT_MSG("d.z: value 0.0 is taken by d 1 (as -0.0: -0.0 and 0.0 are one value)");
    ENT_OK_(udef_put(NULL, 0, 8, 1, 1.0, NULL)); /* d 2 */
    ENT_CHECK_RC(udef_put(NULL, 2, -1, 1, 1.0, NULL), ENT_CONFLICT); /* a replace back to the default */
    ENT_ASSERT_MSG("d.code: value 7 (the field's default) is taken by d 1");
    CU_ASSERT_EQUAL(udef_holder(NULL, "z", ent_value_float(0.0)), 1);
    CU_ASSERT_EQUAL(udef_holder(NULL, "code", ent_value_int(8)), 2);

    /* deferred: d 1 lets 7 and -0.0 go, a new d 3 takes both defaults */
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(udef_put(t, 0, -1, 0, 0, NULL));
    CU_ASSERT_EQUAL(udef_holder(t, "code", ent_value_int(7)), 1);
    ENT_OK_(udef_put(t, 1, 9, 1, 9.0, NULL));
    CU_ASSERT_EQUAL(udef_holder(t, "code", ent_value_int(7)), 3);
    CU_ASSERT_EQUAL(udef_holder(t, "z", ent_value_float(0.0)), 3);
    ENT_OK_(ent_txn_commit(t));
    /* two new ones left to the defaults: refused whole */
    ENT_OK_(ent_log_bounds(&seq0, &seq1, S, NULL));
    ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_defer_unique_checks(t));
    ENT_OK_(udef_put(t, 0, 20, 1, 20.0, NULL));
    ENT_OK_(udef_put(t, 0, -1, 1, 21.0, NULL));
    ENT_CHECK_RC(ent_txn_commit(t), ENT_CONFLICT);
    ENT_ASSERT_MSG("d.code: value 7 is taken by d 3, and d 5 took it too");
    {
        uint64_t f = 0, l = 0;
        ENT_OK_(ent_log_bounds(&f, &l, S, NULL));
        CU_ASSERT_EQUAL(l, seq1);
    }
    /* in a closure: a new d takes the default code that d 3 lets go */
    ENT_OK_(ent_txn_run(S, udef_two_defaults, NULL));
    CU_ASSERT_EQUAL(udef_holder(NULL, "code", ent_value_int(7)), 4); /* ids 4 and 5 went with the refusal */
    CU_ASSERT_EQUAL(udef_holder(NULL, "code", ent_value_int(11)), 3);

    /* strings equal for the first 510 bytes: each over the limit, neither a repeat of the other */
    memset(a, 'q', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'r';
    a[510] = '\0';
    ENT_OK_(udef_put(NULL, 0, 30, 1, 30.0, a)); /* 510 bytes: the longest an index takes */
    a[510] = 'q';
    for (int deferred = 0; deferred < 2; deferred++) {
        ENT_OK_(ent_txn_begin(&t, S, ENT_TXN_WRITE));
        if (deferred) ENT_OK_(ent_txn_defer_unique_checks(t));
        ENT_CHECK_RC(udef_put(t, 0, 31, 1, 31.0, a), ENT_FULL);
        CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_TOO_LARGE);
        ENT_ASSERT_MSG("d.s: index value of 599 bytes exceeds the backend's key limit");
        ENT_CHECK_RC(udef_put(t, 0, 32, 1, 32.0, b), ENT_FULL);
        ENT_CHECK_RC(udef_put(t, 1, 33, 1, 33.0, b), ENT_FULL); /* a replace too */
        ENT_OK_(ent_txn_commit(t)); /* the refusals wrote nothing */
        ent_value v = ent_value_string(a);
        ent_entity *e = NULL;
        ENT_CHECK_RC(ent_find_unique(&e, S, NULL, ent_type_field(ent_store_type(S, "d"), "s"), &v), ENT_FULL);
    }
    a[510] = '\0';
    CU_ASSERT_EQUAL(udef_holder(NULL, "s", ent_value_string(a)), 5);
    ENT_OK_(ent_store_verify(&problems, S, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
    ent_test_store_close(&S, &SC, dir);
}

/* Seeds 1..24; IM_SEEDS=first,count runs others (a longer probe by hand). */
static void t_index_model(void)
{
    unsigned long long first = 1, count = 24;
    if (getenv("IM_SEEDS") && sscanf(getenv("IM_SEEDS"), "%llu,%llu", &first, &count) != 2) first = 1, count = 24;
    memset(longstr, 'x', 300);
    memset(zs, 'z', 300);
    memset(as, 'a', 300);
    for (int i = 0; i < NKEYS; i++) snprintf(skeys[i], sizeof skeys[i], i % 3 ? "k%02d" : "\xc3\xa9%d", i);
    for (uint64_t seed = first; seed < first + count && !CU_get_number_of_failures(); seed++) run_seed(seed);
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_index_model),
        ENT_TEST(t_unique_defaults_and_limits),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_index_model_%s", backend);
    return ent_test_run(suite, cases);
}
