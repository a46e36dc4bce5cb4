/* Black-box probing with random schemas, on both backends.
 *
 * Each seed makes a schema of 1-4 types (auto or string keys) whose fields are drawn from every kind
 * schemas/README.md documents (bool, int, uint, float, string, bytes, timestamp, declared and
 * free-form maps, arrays of each, refs to earlier types), with random required flags, defaults,
 * min/max, max_length, enums, unique and indexed flags; writes it as JSON and loads it. Then, on
 * the memory and the LMDB backend: random valid entities (values at the limits' and kinds' edges:
 * -0.0, subnormals, huge floats, NaN and infinities where no bound forbids them, INT64_MIN,
 * UINT64_MAX, timestamps at both ends of int64, empty strings, UTF-8, strings of exactly the index
 * key limit) are created and read back against what was set (plus the defaults), through JSON out
 * and in; random invalid ones (out of bounds, too long, not in the enum, missing required, wrong
 * kind, unknown field, dangling ref, repeated unique value or key, bad key, invalid UTF-8, index
 * value over the key limit) must be refused with a message, writing nothing (counts and the log
 * unchanged). Replaces and deletes follow. Every index is then checked against a sorted model:
 * look-ups of each value, find_unique, random ranges both ways, in pages resumed by token; and a
 * scan of each type against the model; and ent_store_verify() finds nothing.
 * On LMDB, the `entity` tool (its path in $ENTITY_CLI; skipped without it) dumps the store, loads
 * the dump into a store made by `init --schema`, replays the log with `replay --into`: the dumps
 * must be identical and the copies answer the same look-ups; `check` says ok. Last, the schema is
 * evolved as the README allows (fields added, with defaults or not, some indexed; indexes added and
 * dropped; limits relaxed; enum values added; fields removed; a type added) and the store reopened
 * with it: every entity reads as before plus the new defaults minus the removed fields, every index
 * answers as the model says, and new writes work.
 * Seeds: ENT_RAND_SCHEMA_SEEDS (how many, default 24) from ENT_RAND_SCHEMA_FIRST (default 1).
 * A mismatch names the seed, the backend and the case. */
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>

#include "test_rand.h"
#include "test_util.h"

/* ---- rng, failures ------------------------------------------------------------------------ */

static uint64_t rs;
static unsigned rnd(unsigned n) { return (unsigned)(test_rand_next(&rs) % n); }
static uint64_t r64(void) { return test_rand_next(&rs); }

static unsigned long long cur_seed;
static const char *cur_backend = "";
static char cur_case[160];
static int seed_fails;
static ent_txn *g_txn; /* the write transaction the workload's calls run in; NULL: each its own */

/* What the run did, printed at its end: a generator that tests nothing would show here. */
static struct {
    unsigned long txns, creates, replaces, updates, patches, deletes, refused, finds, ranges, evolutions, cli_rounds;
} stats;

#define CASE(...) snprintf(cur_case, sizeof cur_case, __VA_ARGS__)
static void failf(const char *fmt, ...)
{
    va_list ap;
    seed_fails++;
    CU_FAIL("mismatch (see stderr)");
    if (seed_fails > 6) return;
    fprintf(stderr, "\n  seed %llu, %s, case %s: ", cur_seed, cur_backend, cur_case);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

/* ---- a growable string -------------------------------------------------------------------- */

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;
static void sb_addn(sb *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        CU_ASSERT_FATAL(b->p != NULL);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void sb_add(sb *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n >= 0 && (size_t)n < sizeof tmp);
    sb_addn(b, tmp, (size_t)n);
}

static void json_str(sb *b, const char *s, size_t n)
{
    sb_addn(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            sb_addn(b, "\\", 1);
            sb_addn(b, s + i, 1);
        } else if (c < 0x20) {
            sb_add(b, "\\u%04x", c);
        } else {
            sb_addn(b, s + i, 1);
        }
    }
    sb_addn(b, "\"", 1);
}

static void b64(sb *b, const unsigned char *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sb_addn(b, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=', i + 2 < n ? a[v & 63] : '='};
        sb_addn(b, q, 4);
    }
    sb_addn(b, "\"", 1);
}

/* RFC 3339 with 9 digits, as the library writes timestamps (days to civil date: H. Hinnant's). */
static void rfc3339(sb *b, int64_t ns)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) frac += 1000000000, secs--;
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) sod += 86400, days--;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    sb_add(b, "\"%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09lldZ\"", (long long)y, (long long)m, (long long)d,
           (long long)(sod / 3600), (long long)(sod / 60 % 60), (long long)(sod % 60), (long long)frac);
}

static void json_float(sb *b, double f)
{
    char tmp[64];
    if (isnan(f)) return sb_add(b, "\"NaN\"");
    if (isinf(f)) return sb_add(b, f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    snprintf(tmp, sizeof tmp, "%.17g", f);
    sb_add(b, "%s", tmp);
    if (!strpbrk(tmp, ".e")) sb_add(b, ".0");
}

/* ---- the schema model ---------------------------------------------------------------------- */

typedef struct ival { /* one scalar value (refs: UINT or STRING, the target's key kind) */
    ent_kind kind;
    int b;
    int64_t i; /* INT, TIMESTAMP */
    uint64_t u;
    double f;
    char *s; /* STRING, BYTES: owned */
    size_t n;
} ival;

typedef struct gf gf;
struct gf {
    char name[24];
    unsigned id;
    ent_kind kind;
    int required, unique, indexed;
    int has_min, has_max;
    int64_t imin, imax;
    uint64_t umin, umax;
    double fmin, fmax;
    int has_len;
    uint64_t max_len;
    int nenum;
    char enums[4][12];
    int has_def;
    ival def;           /* a scalar's default */
    char *defin, *defex; /* an array's or map's default: in the schema, as a read gives it */
    gf *items; /* ARRAY: the item spec */
    int nsub;  /* MAP: declared sub-fields (0: free-form) */
    gf *sub;
    int to;      /* REF: index of the target type */
    int removed; /* evolution: gone from the newer schema */
};

#define MAXT 5
#define MAXF 12
typedef struct gt {
    char name[16];
    ent_key_kind key;
    int nf;
    gf f[MAXF];
} gt;
typedef struct gs {
    unsigned version;
    int nt;
    gt t[MAXT];
} gs;

static int is_scalar(ent_kind k) { return k >= ENT_KIND_BOOL && k <= ENT_KIND_TIMESTAMP; }
static int is_idx(const gf *f) { return f->unique || f->indexed || f->kind == ENT_KIND_REF; }
/* The most bytes of an index value the backends take (README: longer is refused on write). */
#define IDX_MAX 510

static void ival_free(ival *v)
{
    free(v->s);
    v->s = NULL;
}
static void gf_free(gf *f)
{
    if (f->items) gf_free(f->items), free(f->items);
    for (int i = 0; i < f->nsub; i++) gf_free(&f->sub[i]);
    free(f->sub);
    ival_free(&f->def);
    free(f->defin);
    free(f->defex);
    memset(f, 0, sizeof *f);
}

static void gen_value(ival *out, const gf *f, const gs *s);
static void put_ival(sb *b, const ival *v, int canonical);
static void gen_default(ival *out, const gf *f, const gs *s);
/* Set while a default is made: a schema's strings cannot hold \u0000 (schema.c), entities' can. */
static int gen_no_nul;
static void gen_def_json(gf *f, const gs *s);

static void gen_limits(gf *f, int depth)
{
    switch (f->kind) {
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP: {
        static const int64_t lo[] = {INT64_MIN, -1000000000000000000LL, -5, -1, 0, 3, 1700000000000000000LL};
        if ((f->has_min = rnd(3) == 0)) f->imin = lo[rnd(7)];
        if ((f->has_max = rnd(3) == 0)) {
            uint64_t span = rnd(2) ? rnd(100) : r64() >> rnd(64);
            int64_t base = f->has_min ? f->imin : lo[rnd(7)];
            f->imax = (uint64_t)INT64_MAX - (uint64_t)base < span ? INT64_MAX : (int64_t)((uint64_t)base + span);
        }
        break;
    }
    case ENT_KIND_UINT: {
        static const uint64_t lo[] = {0, 1, 100, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX - 3};
        if ((f->has_min = rnd(3) == 0)) f->umin = lo[rnd(6)];
        if ((f->has_max = rnd(3) == 0)) {
            uint64_t span = rnd(2) ? rnd(100) : r64() >> rnd(64), base = f->has_min ? f->umin : lo[rnd(6)];
            f->umax = UINT64_MAX - base < span ? UINT64_MAX : base + span;
        }
        break;
    }
    case ENT_KIND_FLOAT: {
        static const double lo[] = {-DBL_MAX, -1e300, -1.5, -0.0, 0.0, 5e-324, 0.25, 1e10};
        if ((f->has_min = rnd(3) == 0)) f->fmin = lo[rnd(8)];
        if ((f->has_max = rnd(3) == 0)) {
            double base = f->has_min ? f->fmin : lo[rnd(8)], span = rnd(2) ? (double)rnd(10) : ldexp(1.0, (int)rnd(1000));
            f->fmax = base + span > DBL_MAX ? DBL_MAX : base + span;
        }
        break;
    }
    case ENT_KIND_STRING:
        if (rnd(3) == 0) {
            static const char *pool[] = {"new", "paid", "x", "", "\xc3\xa9t\xc3\xa9", "a b", "Zz", "quote\"d"};
            f->nenum = 1 + (int)rnd(4);
            unsigned start = rnd(8);
            for (int i = 0; i < f->nenum; i++) snprintf(f->enums[i], sizeof f->enums[i], "%s", pool[(start + (unsigned)i) % 8]);
        }
        /* fall through */
    case ENT_KIND_BYTES:
    case ENT_KIND_ARRAY:
        if ((f->has_len = rnd(3) == 0)) {
            static const uint64_t lens[] = {0, 1, 3, 8, 40, 509, 510, 511, 1000};
            f->max_len = lens[f->kind == ENT_KIND_ARRAY ? rnd(5) : rnd(9)];
            if (f->nenum && f->max_len < 8) f->max_len = 8; /* one enum value at least fits */
        }
        break;
    default: break;
    }
    (void)depth;
}

/* A field spec of kind k at depth (0: top level) of a type with index ti. */
static void gen_field(gf *f, gs *s, int ti, int depth, int top)
{
    static const ent_kind top_kinds[] = {ENT_KIND_BOOL,   ENT_KIND_INT,       ENT_KIND_UINT,  ENT_KIND_FLOAT,
                                         ENT_KIND_STRING, ENT_KIND_BYTES,     ENT_KIND_TIMESTAMP, ENT_KIND_ARRAY,
                                         ENT_KIND_MAP,    ENT_KIND_REF,       ENT_KIND_INT,   ENT_KIND_STRING};
    do f->kind = top_kinds[rnd(12)];
    while ((f->kind == ENT_KIND_REF && (!top || ti == 0)) || (depth >= 3 && !is_scalar(f->kind)));
    if (f->kind == ENT_KIND_REF) {
        f->to = (int)rnd((unsigned)ti); /* earlier types: their entities are made first */
        if (rnd(6) == 0) f->unique = 1;
        f->required = rnd(4) == 0;
        return;
    }
    gen_limits(f, depth);
    if (f->kind == ENT_KIND_ARRAY) {
        f->items = calloc(1, sizeof *f->items);
        CU_ASSERT_FATAL(f->items != NULL);
        gen_field(f->items, s, ti, depth + 1, 0);
        if (top) gen_def_json(f, s);
        return;
    }
    if (f->kind == ENT_KIND_MAP) {
        f->nsub = rnd(3) == 0 ? 0 : 1 + (int)rnd(3);
        if (f->nsub) {
            f->sub = calloc((size_t)f->nsub, sizeof *f->sub);
            CU_ASSERT_FATAL(f->sub != NULL);
        }
        for (int i = 0; i < f->nsub; i++) {
            snprintf(f->sub[i].name, sizeof f->sub[i].name, "s%d", i);
            f->sub[i].id = (unsigned)i + 1 + rnd(3) * 100;
            gen_field(&f->sub[i], s, ti, depth + 1, 0);
            f->sub[i].required = rnd(5) == 0;
            if (is_scalar(f->sub[i].kind) && rnd(4) == 0) {
                f->sub[i].has_def = 1;
                gen_default(&f->sub[i].def, &f->sub[i], s);
            }
        }
        /* ids unique within the map */
        for (int i = 0; i < f->nsub; i++) f->sub[i].id = (unsigned)(f->sub[i].id / 100) * 100 + (unsigned)i + 1;
        if (top) gen_def_json(f, s);
        return;
    }
    if (top && is_scalar(f->kind)) {
        unsigned r = rnd(6);
        if (r == 0) f->unique = 1;
        else if (r <= 2) f->indexed = 1;
    }
    if (top || depth > 0) f->required = top ? rnd(5) == 0 : f->required;
    if (top && rnd(4) == 0) {
        f->has_def = 1;
        gen_default(&f->def, f, s);
    }
}

static void gen_json(sb *in, sb *ex, const gf *f, const gs *s, ival *keep);

/* An array's or a map's default, one time in four (top-level fields). */
static void gen_def_json(gf *f, const gs *s)
{
    sb in = {0}, ex = {0};
    if (rnd(4)) return;
    gen_no_nul = 1;
    gen_json(&in, &ex, f, s, NULL);
    gen_no_nul = 0;
    f->has_def = 1;
    f->defin = in.p;
    f->defex = ex.p;
}

/* f's default as a read gives it. */
static void put_def(sb *b, const gf *f)
{
    if (f->defex) sb_addn(b, f->defex, strlen(f->defex));
    else put_ival(b, &f->def, 1);
}

static void gen_schema(gs *s)
{
    memset(s, 0, sizeof *s);
    s->version = 1;
    s->nt = 1 + (int)rnd(3);
    for (int t = 0; t < s->nt; t++) {
        gt *ty = &s->t[t];
        snprintf(ty->name, sizeof ty->name, "t%d", t);
        ty->key = rnd(2) ? ENT_KEY_AUTO : ENT_KEY_STRING;
        ty->nf = 1 + (int)rnd(7);
        for (int i = 0; i < ty->nf; i++) {
            snprintf(ty->f[i].name, sizeof ty->f[i].name, "f%d", i);
            ty->f[i].id = (unsigned)i + 1 + (rnd(4) == 0 ? 1000 : 0);
            gen_field(&ty->f[i], s, t, 0, 1);
        }
    }
}

static void schema_free(gs *s)
{
    for (int t = 0; t < s->nt; t++)
        for (int i = 0; i < s->t[t].nf; i++) gf_free(&s->t[t].f[i]);
    memset(s, 0, sizeof *s);
}

/* ---- values ------------------------------------------------------------------------------- */

static void put_ival(sb *b, const ival *v, int canonical)
{
    switch (v->kind) {
    case ENT_KIND_BOOL: sb_add(b, v->b ? "true" : "false"); break;
    case ENT_KIND_INT: sb_add(b, "%" PRId64, v->i); break;
    case ENT_KIND_UINT:
        if (v->u > (uint64_t)INT64_MAX) sb_add(b, "\"%" PRIu64 "\"", v->u);
        else sb_add(b, "%" PRIu64, v->u);
        break;
    case ENT_KIND_FLOAT: json_float(b, v->f); break;
    case ENT_KIND_STRING: json_str(b, v->s, v->n); break;
    case ENT_KIND_BYTES: b64(b, (const unsigned char *)v->s, v->n); break;
    case ENT_KIND_TIMESTAMP:
        if (!canonical && rnd(2)) sb_add(b, "%" PRId64, v->i);
        else rfc3339(b, v->i);
        break;
    default: CU_FAIL_FATAL("put_ival: kind");
    }
}

static int64_t pick_i(int64_t lo, int64_t hi)
{
    static const int64_t edges[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX};
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    switch (rnd(5)) {
    case 0: return lo;
    case 1: return hi;
    case 2: {
        int64_t e = edges[rnd(6)];
        if (e >= lo && e <= hi) return e;
    } /* fall through */
    default: return (int64_t)((uint64_t)lo + (span == UINT64_MAX ? r64() : r64() % (span + 1)));
    }
}
static uint64_t pick_u(uint64_t lo, uint64_t hi)
{
    uint64_t span = hi - lo;
    switch (rnd(5)) {
    case 0: return lo;
    case 1: return hi;
    case 2:
        if ((uint64_t)INT64_MAX >= lo && (uint64_t)INT64_MAX + 1 <= hi) return (uint64_t)INT64_MAX + rnd(2);
        /* fall through */
    default: return lo + (span == UINT64_MAX ? r64() : r64() % (span + 1));
    }
}
static double pick_f(const gf *f)
{
    static const double pool[] = {-0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e308, -1e308, DBL_MAX,
                                  -DBL_MAX, 0.1, 1.0, -2.5, 9007199254740993.0, NAN, INFINITY, -INFINITY};
    double lo = f->has_min ? f->fmin : -DBL_MAX, hi = f->has_max ? f->fmax : DBL_MAX, d;
    uint64_t bits;
    for (int tries = 0; tries < 20; tries++) {
        switch (rnd(4)) {
        case 0: d = rnd(2) ? lo : hi; break;
        case 1:
            bits = r64();
            memcpy(&d, &bits, sizeof d);
            break;
        default: d = pool[rnd(16)];
        }
        if (isnan(d) || isinf(d)) {
            if (!f->has_min && !f->has_max) return d;
            continue;
        }
        if (d >= lo && d <= hi) return d;
    }
    return lo;
}

static const char *const chunks[] = {"a", "Z", " ", "\"", "\\", "\n", "\x01", "\xc3\xa9", "\xe6\x97\xa5",
                                     "\xf0\x9f\x98\x80", "0", "/", "~"};
/* A random UTF-8 string of at most max bytes (exactly max, in ASCII, one time in four); with NUL
 * bytes when nul. */
static char *gen_text(size_t *out_n, size_t max, int nul)
{
    nul = nul && !gen_no_nul;
    size_t want = rnd(4) == 0 ? max : rnd(3) == 0 ? 0 : rnd((unsigned)(max < 24 ? max + 1 : 24)), n = 0;
    char *p = malloc(want + 1);
    CU_ASSERT_FATAL(p != NULL);
    if (want == max && max > 0 && rnd(2)) {
        memset(p, 'k', want);
        n = want;
    }
    while (n < want) {
        unsigned ci = rnd(nul ? 14 : 13);
        const char *c = ci < 13 ? chunks[ci] : "";
        size_t l = ci < 13 ? strlen(c) : 1; /* 13: a NUL byte */
        if (n + l > want) c = "q", l = 1;
        memcpy(p + n, c, l);
        n += l;
    }
    p[n] = '\0';
    *out_n = n;
    return p;
}

static void gen_value(ival *out, const gf *f, const gs *s);
static void gen_default(ival *out, const gf *f, const gs *s)
{
    gen_no_nul = 1;
    gen_value(out, f, s);
    gen_no_nul = 0;
}

static void gen_value(ival *out, const gf *f, const gs *s)
{
    (void)s;
    memset(out, 0, sizeof *out);
    out->kind = f->kind;
    switch (f->kind) {
    case ENT_KIND_BOOL: out->b = (int)rnd(2); break;
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP: out->i = pick_i(f->has_min ? f->imin : INT64_MIN, f->has_max ? f->imax : INT64_MAX); break;
    case ENT_KIND_UINT: out->u = pick_u(f->has_min ? f->umin : 0, f->has_max ? f->umax : UINT64_MAX); break;
    case ENT_KIND_FLOAT: out->f = pick_f(f); break;
    case ENT_KIND_STRING:
        if (f->nenum) {
            int k;
            do k = (int)rnd((unsigned)f->nenum);
            while (f->has_len && strlen(f->enums[k]) > f->max_len);
            out->s = strdup(f->enums[k]);
            CU_ASSERT_FATAL(out->s != NULL);
            out->n = strlen(out->s);
            break;
        }
        /* fall through */
    case ENT_KIND_BYTES: {
        size_t max = f->has_len ? (size_t)f->max_len : 600;
        if (is_idx(f) && max > IDX_MAX) max = IDX_MAX;
        if (f->kind == ENT_KIND_STRING) {
            out->s = gen_text(&out->n, max, 1);
        } else {
            out->n = rnd(4) == 0 ? max : rnd((unsigned)(max < 16 ? max + 1 : 16));
            out->s = malloc(out->n + 1);
            CU_ASSERT_FATAL(out->s != NULL);
            for (size_t i = 0; i < out->n; i++) out->s[i] = (char)r64();
        }
        break;
    }
    default: CU_FAIL_FATAL("gen_value: kind");
    }
}

static void put_field_spec(sb *b, const gf *f, const gs *s, int item);

static void put_spec_body(sb *b, const gf *f, const gs *s, int item)
{
    sb_add(b, "\"type\":\"%s\"", ent_kind_name(f->kind));
    if (!item && f->required) sb_add(b, ",\"required\":true");
    if (f->unique) sb_add(b, ",\"unique\":true");
    if (f->indexed) sb_add(b, ",\"indexed\":true");
    if (f->kind == ENT_KIND_REF) sb_add(b, ",\"to\":\"%s\"", s->t[f->to].name);
    if (f->has_min || f->has_max) {
        for (int m = 0; m < 2; m++) {
            if (!(m ? f->has_max : f->has_min)) continue;
            sb_add(b, m ? ",\"max\":" : ",\"min\":");
            ival v = {.kind = f->kind};
            v.i = m ? f->imax : f->imin;
            v.u = m ? f->umax : f->umin;
            v.f = m ? f->fmax : f->fmin;
            put_ival(b, &v, 0);
        }
    }
    if (f->has_len) sb_add(b, ",\"max_length\":%" PRIu64, f->max_len);
    if (f->nenum) {
        sb_add(b, ",\"enum\":[");
        for (int i = 0; i < f->nenum; i++) {
            if (i) sb_add(b, ",");
            json_str(b, f->enums[i], strlen(f->enums[i]));
        }
        sb_add(b, "]");
    }
    if (f->has_def) {
        sb_add(b, ",\"default\":");
        if (f->defin) sb_addn(b, f->defin, strlen(f->defin));
        else put_ival(b, &f->def, 0);
    }
    if (f->items) {
        sb_add(b, ",\"items\":");
        put_field_spec(b, f->items, s, 1);
    }
    if (f->kind == ENT_KIND_MAP && f->nsub) {
        sb_add(b, ",\"fields\":{");
        int first = 1;
        for (int i = 0; i < f->nsub; i++) {
            if (f->sub[i].removed) continue;
            if (!first) sb_add(b, ",");
            first = 0;
            sb_add(b, "\"%s\":", f->sub[i].name);
            put_field_spec(b, &f->sub[i], s, 0);
        }
        sb_add(b, "}");
    }
}

static void put_field_spec(sb *b, const gf *f, const gs *s, int item)
{
    sb_add(b, "{");
    if (!item) sb_add(b, "\"id\":%u,", f->id);
    put_spec_body(b, f, s, item);
    sb_add(b, "}");
}

static char *schema_json(const gs *s)
{
    sb b = {0};
    sb_add(&b, "{\"schema\":\"rand\",\"version\":%u,\"types\":{", s->version);
    for (int t = 0; t < s->nt; t++) {
        const gt *ty = &s->t[t];
        sb_add(&b, "%s\"%s\":{\"key\":\"%s\",\"fields\":{", t ? "," : "", ty->name,
               ty->key == ENT_KEY_AUTO ? "auto" : "string");
        int first = 1;
        for (int i = 0; i < ty->nf; i++) {
            if (ty->f[i].removed) continue;
            sb_add(&b, "%s\"%s\":", first ? "" : ",", ty->f[i].name);
            first = 0;
            put_field_spec(&b, &ty->f[i], s, 0);
        }
        sb_add(&b, "}}");
    }
    sb_add(&b, "}}");
    return b.p;
}

/* ---- the entity model ---------------------------------------------------------------------- */

typedef struct ment {
    int live;
    uint64_t id; /* auto key */
    char *skey;  /* string key (owned) */
    json_t *data; /* what a read must give */
    ival idx[MAXF]; /* values of top-level scalars and refs, indexed or not; kind 0: absent */
    uint64_t version;
    unsigned lacks; /* bit k: the record lacks field k (added since), a read gives its default */
} ment;

typedef struct model {
    ment *e[MAXT];
    int n[MAXT], cap[MAXT];
} model;

static void model_free(model *m);

/* A copy of m (for a transaction that is aborted). */
static void model_clone(model *out, const model *m)
{
    memset(out, 0, sizeof *out);
    for (int t = 0; t < MAXT; t++) {
        if (!m->n[t]) continue;
        out->e[t] = calloc((size_t)m->cap[t], sizeof *out->e[t]);
        CU_ASSERT_FATAL(out->e[t] != NULL);
        out->n[t] = m->n[t], out->cap[t] = m->cap[t];
        for (int i = 0; i < m->n[t]; i++) {
            const ment *a = &m->e[t][i];
            ment *b = &out->e[t][i];
            *b = *a;
            b->skey = a->skey ? strdup(a->skey) : NULL;
            b->data = json_deep_copy(a->data);
            for (int k = 0; k < MAXF; k++) {
                memset(&b->idx[k], 0, sizeof b->idx[k]);
                if (a->idx[k].kind) {
                    b->idx[k] = a->idx[k];
                    if (a->idx[k].s) {
                        b->idx[k].s = malloc(a->idx[k].n + 1);
                        CU_ASSERT_FATAL(b->idx[k].s != NULL);
                        memcpy(b->idx[k].s, a->idx[k].s, a->idx[k].n + 1);
                    }
                }
            }
        }
    }
}

static void model_free(model *m)
{
    for (int t = 0; t < MAXT; t++) {
        for (int i = 0; i < m->n[t]; i++) {
            free(m->e[t][i].skey);
            json_decref(m->e[t][i].data);
            for (int k = 0; k < MAXF; k++) ival_free(&m->e[t][i].idx[k]);
        }
        free(m->e[t]);
    }
    memset(m, 0, sizeof *m);
}

/* A random free-form value (plain JSON that reads back as written). */
static void gen_free(sb *in, int depth)
{
    static const char *keys[] = {"a", "b c", "k/1", "t~0", "\xc3\xa9", "10", ""};
    switch (rnd(depth < 2 ? 9 : 7)) {
    case 0: sb_add(in, "null"); break;
    case 1: sb_add(in, rnd(2) ? "true" : "false"); break;
    case 2: sb_add(in, "%" PRId64, (int64_t)r64() >> rnd(64)); break;
    case 3: {
        double d = pick_f(&(gf){.kind = ENT_KIND_FLOAT, .has_min = 1, .fmin = -DBL_MAX});
        json_float(in, d);
        break;
    }
    case 4:
    case 5: {
        size_t n;
        char *p = gen_text(&n, 20, 1);
        json_str(in, p, n);
        free(p);
        break;
    }
    case 6: sb_add(in, "%u", rnd(1000)); break;
    case 7: {
        unsigned n = rnd(4);
        sb_add(in, "[");
        for (unsigned i = 0; i < n; i++) {
            if (i) sb_add(in, ",");
            gen_free(in, depth + 1);
        }
        sb_add(in, "]");
        break;
    }
    default: {
        unsigned n = rnd(4), used = 0;
        sb_add(in, "{");
        for (unsigned i = 0; i < n; i++) {
            unsigned k = rnd(7);
            if (used & 1u << k) continue;
            if (used) sb_add(in, ",");
            used |= 1u << k;
            json_str(in, keys[k], strlen(keys[k]));
            sb_add(in, ":");
            gen_free(in, depth + 1);
        }
        sb_add(in, "}");
    }
    }
}

/* A valid value of field f into `in` (input JSON) and `ex` (what a read gives). */
static void gen_json(sb *in, sb *ex, const gf *f, const gs *s, ival *keep)
{
    if (is_scalar(f->kind)) {
        ival v;
        gen_value(&v, f, s);
        put_ival(in, &v, 0);
        put_ival(ex, &v, 1);
        if (keep) *keep = v;
        else ival_free(&v);
        return;
    }
    if (f->kind == ENT_KIND_ARRAY) {
        unsigned max = f->has_len ? (unsigned)f->max_len : 5, n = rnd(max + 1);
        sb_add(in, "[");
        sb_add(ex, "[");
        for (unsigned i = 0; i < n; i++) {
            if (i) sb_add(in, ","), sb_add(ex, ",");
            gen_json(in, ex, f->items, s, NULL);
        }
        sb_add(in, "]");
        sb_add(ex, "]");
        return;
    }
    if (f->kind == ENT_KIND_MAP && !f->nsub) {
        size_t at = in->n;
        sb_add(in, "{");
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i) sb_add(in, ",");
            sb_add(in, "\"k%u\":", i);
            gen_free(in, 1);
        }
        sb_add(in, "}");
        sb_addn(ex, in->p + at, in->n - at);
        return;
    }
    if (f->kind == ENT_KIND_MAP) {
        int first = 1;
        sb_add(in, "{");
        sb_add(ex, "{");
        for (int i = 0; i < f->nsub; i++) {
            const gf *c = &f->sub[i];
            if (c->removed) continue;
            int present = c->required || rnd(3) != 0;
            if (!present && !c->has_def) continue;
            if (!first) sb_add(ex, ",");
            sb_add(ex, "\"%s\":", c->name);
            if (present) {
                if (in->p[in->n - 1] != '{') sb_add(in, ",");
                sb_add(in, "\"%s\":", c->name);
                gen_json(in, ex, c, s, NULL);
            } else {
                put_ival(ex, &c->def, 1);
            }
            first = 0;
        }
        sb_add(in, "}");
        sb_add(ex, "}");
        return;
    }
    CU_FAIL_FATAL("gen_json: kind");
}

/* ---- comparing JSON ------------------------------------------------------------------------ */

static int jeq(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b)) {
        /* a float that is a whole number may be read as an integer on either side */
        if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
        return 0;
    }
    switch (json_typeof(a)) {
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return x == y ? signbit(x) == signbit(y) : isnan(x) && isnan(y);
    }
    case JSON_INTEGER: return json_integer_value(a) == json_integer_value(b);
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jeq(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b)) return 0;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !jeq(v, w)) return 0;
        }
        return 1;
    }
    default: return 1;
    }
}

/* The entity's data as a read gives it, against the model's; 0 when equal. */
static int check_entity_json(const ent_entity *e, const json_t *want, const char *what)
{
    char *out = NULL, *out2 = NULL;
    ent_entity *back = NULL;
    json_error_t err;
    int rc = ent_entity_to_json(&out, e, 0), bad = 0;
    if (rc != ENT_OK) {
        failf("%s: to_json %d %s", what, rc, ent_errmsg());
        return -1;
    }
    json_t *got = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!got || !jeq(got, want)) {
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        failf("%s: read\n    %s\n  wanted\n    %s", what, out, w);
        free(w);
        bad = -1;
    }
    json_decref(got);
    /* JSON out, then in, then out again: the same text */
    if (!bad && (rc = ent_entity_from_json(&back, ent_entity_type(e), out, strlen(out))) != ENT_OK) {
        failf("%s: its own JSON refused: %d %s: %s", what, rc, ent_errmsg(), out);
        bad = -1;
    }
    if (!bad && (ent_entity_to_json(&out2, back, 0) != ENT_OK || strcmp(out, out2))) {
        failf("%s: JSON out, in, out differs:\n    %s\n    %s", what, out, out2 ? out2 : "(none)");
        bad = -1;
    }
    ent_entity_free(back);
    free(out);
    free(out2);
    return bad;
}

/* ---- index model ---------------------------------------------------------------------------- */

static int fcmp(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return a < b ? -1 : a > b;
}
static int bcmp_(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}
static int vcmp(const ival *a, const ival *b)
{
    switch (a->kind) {
    case ENT_KIND_BOOL: return a->b - b->b;
    case ENT_KIND_INT:
    case ENT_KIND_TIMESTAMP: return (a->i > b->i) - (a->i < b->i);
    case ENT_KIND_UINT: return (a->u > b->u) - (a->u < b->u);
    case ENT_KIND_FLOAT: return fcmp(a->f, b->f);
    default: return bcmp_(a->s, a->n, b->s, b->n);
    }
}
static int kcmp(const ment *a, const ment *b)
{
    if (a->skey) return bcmp_(a->skey, strlen(a->skey), b->skey, strlen(b->skey));
    return (a->id > b->id) - (a->id < b->id);
}

static ent_value to_value(const ival *v)
{
    switch (v->kind) {
    case ENT_KIND_BOOL: return ent_value_bool(v->b);
    case ENT_KIND_INT: return ent_value_int(v->i);
    case ENT_KIND_TIMESTAMP: return ent_value_timestamp(v->i);
    case ENT_KIND_UINT: return ent_value_uint(v->u);
    case ENT_KIND_FLOAT: return ent_value_float(v->f);
    case ENT_KIND_STRING: {
        ent_value r = ent_value_string("");
        r.v.s.ptr = v->s;
        r.v.s.len = v->n;
        return r;
    }
    default: return ent_value_bytes(v->s, v->n);
    }
}

static int sort_fi_k; /* qsort context: the field index */
static int cmp_entry(const void *x, const void *y)
{
    const ment *a = *(const ment *const *)x, *b = *(const ment *const *)y;
    int c = vcmp(&a->idx[sort_fi_k], &b->idx[sort_fi_k]);
    return c ? c : kcmp(a, b);
}

static void key_text(char *buf, size_t n, const ment *e)
{
    if (e->skey) snprintf(buf, n, "\"%.40s\"", e->skey);
    else snprintf(buf, n, "%" PRIu64, e->id);
}

static int ent_is(const ent_entity *e, const ment *m)
{
    ent_key k = ent_entity_key(e);
    if (m->skey) return k.kind == ENT_KEY_STRING && k.len == strlen(m->skey) && !memcmp(k.str, m->skey, k.len);
    return k.kind == ENT_KEY_AUTO && k.id == m->id;
}

/* Read `it` to its end and compare with want[0..n). */
static int iter_against(ent_iter *it, const ment *const *want, size_t n, const char *what)
{
    ent_entity *e;
    size_t i = 0;
    int rc;
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        if (i >= n || !ent_is(e, want[i])) {
            char k[64] = "(end)";
            if (i < n) key_text(k, sizeof k, want[i]);
            failf("%s: entity %zu is not %s", what, i, k);
            ent_entity_free(e);
            return -1;
        }
        if (check_entity_json(e, want[i]->data, what)) {
            ent_entity_free(e);
            return -1;
        }
        ent_entity_free(e);
        i++;
    }
    if (rc != ENT_NOTFOUND) failf("%s: iter_next %d %s", what, rc, ent_errmsg());
    else if (i != n) failf("%s: %zu entities, wanted %zu", what, i, n);
    else return 0;
    return -1;
}

static void check_field_index(ent_store *st, const gs *s, const model *m, int t, int k)
{
    const gt *ty = &s->t[t];
    const gf *gfld = &ty->f[k];
    const ent_type *et = ent_store_type(st, ty->name);
    const ent_field *f = et ? ent_type_field(et, gfld->name) : NULL;
    const ment **all = calloc((size_t)m->n[t] + 1, sizeof *all), **sel = calloc((size_t)m->n[t] + 1, sizeof *sel);
    size_t na = 0;
    ent_txn *tx = NULL;
    CU_ASSERT_FATAL(all && sel);
    if (!f) {
        failf("no field %s.%s in the store", ty->name, gfld->name);
        goto out;
    }
    for (int i = 0; i < m->n[t]; i++)
        if (m->e[t][i].live && m->e[t][i].idx[k].kind) all[na++] = &m->e[t][i];
    sort_fi_k = k;
    qsort(all, na, sizeof *all, cmp_entry);
    ENT_OK_(ent_txn_begin(&tx, st, 0));
    /* every value held, and one probably not */
    for (size_t i = 0; i <= na && i < 12; i++) {
        ival probe;
        ent_iter *it = NULL;
        size_t ns = 0;
        const ival *pv;
        if (i < na) {
            pv = &all[i * (na > 12 ? na / 12 : 1)]->idx[k];
        } else {
            if (gfld->kind == ENT_KIND_REF) continue;
            gen_value(&probe, gfld, s);
            pv = &probe;
        }
        for (size_t j = 0; j < na; j++)
            if (!vcmp(&all[j]->idx[k], pv)) sel[ns++] = all[j];
        ent_value v = to_value(pv);
        CASE("find %s.%s #%zu", ty->name, gfld->name, i);
        int rc = ent_find(&it, st, tx, f, &v);
        stats.finds++;
        if (rc != ENT_OK) failf("ent_find %d %s", rc, ent_errmsg());
        else iter_against(it, sel, ns, cur_case);
        ent_iter_free(it);
        if (gfld->unique) {
            ent_entity *e = NULL;
            rc = ent_find_unique(&e, st, tx, f, &v);
            if (ns ? rc != ENT_OK || !ent_is(e, sel[0]) : rc != ENT_NOTFOUND)
                failf("find_unique: %d (%zu in the model) %s", rc, ns, ent_errmsg());
            ent_entity_free(e);
        }
        if (i == na) ival_free(&probe);
    }
    /* ranges [from, to), both ways, whole and in pages */
    for (int r = 0; r < 8; r++) {
        ival pf, pt;
        int hf = rnd(4) != 0, ht = rnd(4) != 0, rev = (int)rnd(2), fromgen = 0, togen = 0;
        if (hf) {
            if (na && rnd(3)) pf = all[rnd((unsigned)na)]->idx[k];
            else if (gfld->kind != ENT_KIND_REF) gen_value(&pf, gfld, s), fromgen = 1;
            else hf = 0;
        }
        if (ht) {
            if (na && rnd(3)) pt = all[rnd((unsigned)na)]->idx[k];
            else if (gfld->kind != ENT_KIND_REF) gen_value(&pt, gfld, s), togen = 1;
            else ht = 0;
        }
        size_t ns = 0;
        for (size_t j = 0; j < na; j++) {
            const ival *v = &all[j]->idx[k];
            /* a range without `to` stops below NaN unless `from` is NaN (store.h) */
            if (!ht && v->kind == ENT_KIND_FLOAT && isnan(v->f) && !(hf && isnan(pf.f))) continue;
            if ((!hf || vcmp(v, &pf) >= 0) && (!ht || vcmp(v, &pt) < 0)) sel[ns++] = all[j];
        }
        if (rev)
            for (size_t a = 0, b = ns ? ns - 1 : 0; a < b; a++, b--) {
                const ment *x = sel[a];
                sel[a] = sel[b], sel[b] = x;
            }
        ent_value vf = hf ? to_value(&pf) : ent_value_int(0), vt = ht ? to_value(&pt) : ent_value_int(0);
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        o.from = hf ? &vf : NULL;
        o.to = ht ? &vt : NULL;
        o.flags = rev ? ENT_ITER_REVERSE : 0;
        ent_iter *it = NULL;
        CASE("range %s.%s #%d (%s%s%s)", ty->name, gfld->name, r, hf ? "from " : "", ht ? "to " : "", rev ? "reverse" : "");
        int rc = ent_range(&it, st, tx, f, &o);
        stats.ranges++;
        if (rc != ENT_OK) failf("ent_range %d %s", rc, ent_errmsg());
        else iter_against(it, sel, ns, cur_case);
        ent_iter_free(it);
        /* the same in pages of 2, resumed by token */
        char tok[4096] = ""; /* hex of the index value and key: 2 * (510 + 255) and a prefix */
        size_t done = 0;
        o.limit = 2;
        for (int page = 0; page < 1000 && rc == ENT_OK; page++) {
            ent_entity *e;
            size_t got = 0;
            o.resume = page ? tok : NULL;
            if ((rc = ent_range(&it, st, tx, f, &o)) != ENT_OK) {
                failf("ent_range page %d: %d %s", page, rc, ent_errmsg());
                break;
            }
            while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
                if (done + got >= ns || !ent_is(e, sel[done + got])) failf("page %d: entity %zu out of place", page, done + got);
                ent_entity_free(e);
                got++;
            }
            int more = ent_iter_more(it);
            if (ent_iter_resume(it)) snprintf(tok, sizeof tok, "%s", ent_iter_resume(it));
            ent_iter_free(it);
            rc = rc == ENT_NOTFOUND ? ENT_OK : rc;
            done += got;
            if (more != 1) {
                if (done != ns) failf("pages gave %zu, wanted %zu", done, ns);
                break;
            }
        }
        if (fromgen) ival_free(&pf);
        if (togen) ival_free(&pt);
    }
out:
    ent_txn_abort(tx);
    free(all);
    free(sel);
}

static void check_store(ent_store *st, const gs *s, const model *m, const char *when)
{
    for (int t = 0; t < s->nt; t++) {
        const gt *ty = &s->t[t];
        const ent_type *et = ent_store_type(st, ty->name);
        const ment **all = calloc((size_t)m->n[t] + 1, sizeof *all);
        size_t na = 0;
        uint64_t cnt = 0;
        ent_iter *it = NULL;
        CU_ASSERT_FATAL(all != NULL);
        for (int i = 0; i < m->n[t]; i++)
            if (m->e[t][i].live) all[na++] = &m->e[t][i];
        sort_fi_k = -1;
        for (size_t a = 1; a < na; a++) /* key order (insertion sort: few) */
            for (size_t b = a; b > 0 && kcmp(all[b - 1], all[b]) > 0; b--) {
                const ment *x = all[b];
                all[b] = all[b - 1], all[b - 1] = x;
            }
        CASE("%s: scan %s", when, ty->name);
        if (!et) failf("no type");
        else if (ent_count(&cnt, st, NULL, et) != ENT_OK || cnt != na) failf("count %" PRIu64 ", model %zu", cnt, na);
        else if (ent_scan(&it, st, NULL, et, NULL, NULL) != ENT_OK) failf("scan: %s", ent_errmsg());
        else iter_against(it, all, na, cur_case);
        ent_iter_free(it);
        free(all);
        for (int k = 0; k < ty->nf && et; k++)
            if (!ty->f[k].removed && is_idx(&ty->f[k])) check_field_index(st, s, m, t, k);
    }
    uint64_t problems = 1;
    CASE("%s: verify", when);
    int rc = ent_store_verify(&problems, st, NULL, NULL);
    if (rc != ENT_OK || problems) failf("verify: %d, %" PRIu64 " problems: %s", rc, problems, ent_errmsg());
}

/* ---- entities ------------------------------------------------------------------------------ */

typedef struct cand {
    sb in, ex;      /* input data JSON, what a read gives */
    ival idx[MAXF]; /* values of top-level scalars and refs (kind 0: absent) */
    char *skey;     /* string key */
    int conflict;   /* a unique value or the key is taken: the create must say ENT_CONFLICT */
    int dangling;   /* a required ref with no target to point at */
    unsigned given; /* bit k: field k is in the data */
} cand;

static void cand_free(cand *c)
{
    free(c->in.p);
    free(c->ex.p);
    for (int k = 0; k < MAXF; k++) ival_free(&c->idx[k]);
    free(c->skey);
    memset(c, 0, sizeof *c);
}

static void ival_copy(ival *out, const ival *v)
{
    *out = *v;
    if (v->s) {
        out->s = malloc(v->n + 1);
        CU_ASSERT_FATAL(out->s != NULL);
        memcpy(out->s, v->s, v->n);
        out->s[v->n] = '\0';
    }
}

static const ment *live_at(const model *m, int t, unsigned r)
{
    int n = 0;
    for (int i = 0; i < m->n[t]; i++) n += m->e[t][i].live;
    if (!n) return NULL;
    r %= (unsigned)n;
    for (int i = 0; i < m->n[t]; i++)
        if (m->e[t][i].live && r-- == 0) return &m->e[t][i];
    return NULL;
}

static const ment *find_key(const model *m, int t, const char *skey)
{
    for (int i = 0; i < m->n[t]; i++)
        if (m->e[t][i].live && m->e[t][i].skey && !strcmp(m->e[t][i].skey, skey)) return &m->e[t][i];
    return NULL;
}

/* A random valid entity of type t; `self` (or NULL) is the entity it will replace. */
static void gen_entity(cand *c, const gs *s, const model *m, int t, const ment *self)
{
    const gt *ty = &s->t[t];
    memset(c, 0, sizeof *c);
    sb_add(&c->in, "{");
    sb_add(&c->ex, "{");
    for (int k = 0; k < ty->nf; k++) {
        const gf *f = &ty->f[k];
        if (f->removed) continue;
        int present = f->required || rnd(3) != 0;
        if (f->kind == ENT_KIND_REF) {
            const ment *tg = present ? live_at(m, f->to, rnd(1000)) : NULL;
            if (!tg && f->required) c->dangling = 1;
            if (!tg) continue;
            c->given |= 1u << k;
            ival v = {.kind = tg->skey ? ENT_KIND_STRING : ENT_KIND_UINT, .u = tg->id};
            if (tg->skey) v.s = strdup(tg->skey), v.n = strlen(tg->skey);
            for (int p = 0; p < 2; p++) {
                sb *b = p ? &c->ex : &c->in;
                sb_add(b, "%s\"%s\":", b->p[b->n - 1] == '{' ? "" : ",", f->name);
                put_ival(b, &v, 1);
            }
            c->idx[k] = v;
            continue;
        }
        if (!present && !f->has_def) continue;
        if (c->ex.p[c->ex.n - 1] != '{') sb_add(&c->ex, ",");
        sb_add(&c->ex, "\"%s\":", f->name);
        if (present) {
            c->given |= 1u << k;
            if (c->in.p[c->in.n - 1] != '{') sb_add(&c->in, ",");
            sb_add(&c->in, "\"%s\":", f->name);
            gen_json(&c->in, &c->ex, f, s, is_scalar(f->kind) ? &c->idx[k] : NULL);
        } else {
            put_def(&c->ex, f);
            if (is_scalar(f->kind)) ival_copy(&c->idx[k], &f->def);
        }
    }
    sb_add(&c->in, "}");
    sb_add(&c->ex, "}");
    if (ty->key == ENT_KEY_STRING) {
        size_t n;
        do {
            free(c->skey);
            c->skey = gen_text(&n, ENT_KEY_STRING_MAX, 0);
        } while (n == 0);
        if (rnd(8) == 0 && live_at(m, t, 0)) { /* a key taken */
            free(c->skey);
            c->skey = strdup(live_at(m, t, rnd(100))->skey);
        }
        const ment *o = find_key(m, t, c->skey);
        if (o && o != self) c->conflict = 1;
    }
    for (int k = 0; k < ty->nf; k++) {
        if (!ty->f[k].unique || !c->idx[k].kind) continue;
        for (int i = 0; i < m->n[t]; i++) {
            const ment *o = &m->e[t][i];
            if (o->live && o != self && o->idx[k].kind && !vcmp(&o->idx[k], &c->idx[k])) c->conflict = 1;
        }
    }
}

static void counts(uint64_t *out, uint64_t *last, ent_store *st, const gs *s)
{
    uint64_t first;
    for (int t = 0; t < s->nt; t++) {
        out[t] = UINT64_MAX;
        const ent_type *et = ent_store_type(st, s->t[t].name);
        if (et) ENT_OK_(ent_count(&out[t], st, g_txn, et));
    }
    ENT_OK_(ent_log_bounds(&first, last, st, g_txn));
}

static ment *model_add(model *m, int t)
{
    if (m->n[t] == m->cap[t]) {
        m->cap[t] = m->cap[t] ? m->cap[t] * 2 : 16;
        m->e[t] = realloc(m->e[t], (size_t)m->cap[t] * sizeof *m->e[t]);
        CU_ASSERT_FATAL(m->e[t] != NULL);
    }
    ment *e = &m->e[t][m->n[t]++];
    memset(e, 0, sizeof *e);
    return e;
}

static void model_set(ment *e, cand *c, json_t *data)
{
    json_decref(e->data);
    e->data = data;
    for (int k = 0; k < MAXF; k++) {
        ival_free(&e->idx[k]);
        e->idx[k] = c->idx[k];
        memset(&c->idx[k], 0, sizeof c->idx[k]);
    }
}

static ent_key ment_key(const ment *e) { return e->skey ? ent_key_str(e->skey) : ent_key_id(e->id); }

/* Read entity e back and compare with the model. */
static void check_get(ent_store *st, const gt *ty, const ment *e)
{
    if (getenv("ENT_RAND_SCHEMA_VERBOSE")) {
        char *d = json_dumps(e->data, JSON_COMPACT);
        fprintf(stderr, "\n  %s: lacks %#x, want v%" PRIu64 " %s", cur_case, e->lacks, e->version, d);
        free(d);
    }
    ent_entity *got = NULL;
    ent_key key = ment_key(e);
    int rc = ent_get(&got, st, g_txn, ent_store_type(st, ty->name), &key);
    if (rc != ENT_OK) failf("get: %d %s", rc, ent_errmsg());
    else if (ent_entity_version(got) != e->version)
        failf("get: version %" PRIu64 ", model %" PRIu64, ent_entity_version(got), e->version);
    else check_entity_json(got, e->data, cur_case);
    ent_entity_free(got);
}

/* Create (or replace `self`) from a valid candidate; the model follows. */
static void put_valid(ent_store *st, const gs *s, model *m, int t, ment *self)
{
    cand c;
    ent_entity *e = NULL;
    json_error_t err;
    const ent_type *et = ent_store_type(st, s->t[t].name);
    gen_entity(&c, s, m, t, self);
    if (self) {
        free(c.skey);
        c.skey = self->skey ? strdup(self->skey) : NULL;
        c.conflict = 0;
        for (int k = 0; k < s->t[t].nf; k++) /* the key is its own; values may still collide */
            for (int i = 0; i < m->n[t] && s->t[t].f[k].unique && c.idx[k].kind; i++)
                if (m->e[t][i].live && &m->e[t][i] != self && m->e[t][i].idx[k].kind && !vcmp(&m->e[t][i].idx[k], &c.idx[k]))
                    c.conflict = 1;
    }
    int rc = ent_entity_from_json(&e, et, c.in.p, c.in.n);
    if (rc != ENT_OK) {
        failf("valid data refused: %d %s: %s", rc, ent_errmsg(), c.in.p);
        goto out;
    }
    if (c.skey && (rc = ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, c.skey, strlen(c.skey)})) != ENT_OK) {
        failf("set_key: %d %s", rc, ent_errmsg());
        goto out;
    }
    if (self && !self->skey) ENT_OK_(ent_entity_set_key(e, &(ent_key){ENT_KEY_AUTO, self->id, NULL, 0}));
    rc = self ? ent_replace(st, g_txn, e, self->version) : ent_create(st, g_txn, e);
    if (c.conflict || c.dangling) {
        if (rc == ENT_OK) failf("%s accepted: %s", c.conflict ? "a taken unique value or key" : "a dangling ref", c.in.p);
        else if (!*ent_errmsg()) failf("refused without a message");
        goto out;
    }
    if (rc != ENT_OK) {
        failf("%s refused: %d %s: %s", self ? "replace" : "create", rc, ent_errmsg(), c.in.p);
        goto out;
    }
    json_t *want = json_loads(c.ex.p, JSON_ALLOW_NUL, &err);
    if (!want) {
        failf("test bug: expected JSON %s: %s", err.text, c.ex.p);
        goto out;
    }
    ment *me = self;
    if (!me) {
        me = model_add(m, t);
        me->live = 1;
        me->version = 0;
        if (c.skey) me->skey = strdup(c.skey);
        else me->id = ent_entity_key(e).id;
    }
    /* a value given for a field the record lacks is stored, even the default it reads with (crud.c) */
    if (!self || !jeq(self->data, want) || (self->lacks & c.given)) me->version++, me->lacks = 0; /* a write stores every default */
    if (self) stats.replaces++;
    else stats.creates++;
    model_set(me, &c, want);
    check_get(st, &s->t[t], me);
out:
    ent_entity_free(e);
    cand_free(&c);
}

/* A random invalid entity of type t: refused with a message, nothing written. */
static void put_invalid(ent_store *st, const gs *s, model *m, int t)
{
    const gt *ty = &s->t[t];
    const ent_type *et = ent_store_type(st, ty->name);
    cand c;
    json_error_t err;
    json_t *o = NULL;
    ent_entity *e = NULL;
    char name[32] = "", what[64] = "";
    uint64_t before[MAXT], after[MAXT], last0, last1;
    int utf8 = 0, want_conflict = 0;
    gen_entity(&c, s, m, t, NULL);
    if (c.conflict || c.dangling) goto out;
    o = json_loads(c.in.p, JSON_ALLOW_NUL, &err);
    CU_ASSERT_FATAL(o != NULL);
    for (int tries = 0; tries < 30 && !*what; tries++) {
        int k = (int)rnd((unsigned)ty->nf);
        const gf *f = &ty->f[k];
        if (f->removed) continue;
        unsigned cat = rnd(12);
        if ((cat == 4 || cat == 5) && tries < 20) continue; /* always possible: after the others */
        snprintf(name, sizeof name, "%s", f->name);
        switch (cat) {
        case 0:
            if (f->required && !f->has_def) json_object_del(o, f->name), snprintf(what, sizeof what, "missing required");
            break;
        case 1: /* out of bounds */
            if (f->kind == ENT_KIND_INT || f->kind == ENT_KIND_TIMESTAMP) {
                if (f->has_min && f->imin > INT64_MIN)
                    json_object_set_new(o, f->name, json_integer(f->imin - 1)), snprintf(what, sizeof what, "below min");
                else if (f->has_max && f->imax < INT64_MAX)
                    json_object_set_new(o, f->name, json_integer(f->imax + 1)), snprintf(what, sizeof what, "above max");
            } else if (f->kind == ENT_KIND_UINT) {
                char num[32];
                if (f->has_min && f->umin > 0) snprintf(num, sizeof num, "%" PRIu64, f->umin - 1), snprintf(what, sizeof what, "below min");
                else if (f->has_max && f->umax < UINT64_MAX) snprintf(num, sizeof num, "%" PRIu64, f->umax + 1), snprintf(what, sizeof what, "above max");
                if (*what) { /* above 2^63-1: a decimal string, as entity JSON writes it */
                    json_t *v = json_loads(num, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
                    json_object_set_new(o, f->name, v ? v : json_string(num));
                }
            } else if (f->kind == ENT_KIND_FLOAT && (f->has_min || f->has_max)) {
                double d = rnd(3) == 0 ? NAN : f->has_min && f->fmin > -DBL_MAX ? nextafter(f->fmin, -INFINITY)
                                           : f->has_max && f->fmax < DBL_MAX   ? nextafter(f->fmax, INFINITY)
                                                                               : NAN;
                sb b = {0};
                json_float(&b, d);
                json_object_set_new(o, f->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
                free(b.p);
                snprintf(what, sizeof what, "float out of [min, max]: %g", d);
            }
            break;
        case 2: /* too long */
            if ((f->kind == ENT_KIND_STRING && !f->nenum) || f->kind == ENT_KIND_BYTES) {
                uint64_t n = f->has_len && f->max_len < 2000 ? f->max_len + 1 : is_idx(f) ? IDX_MAX + 1 : 0;
                if (!n) break;
                char *p = malloc(n + 1);
                CU_ASSERT_FATAL(p != NULL);
                memset(p, f->kind == ENT_KIND_BYTES ? 'A' : 'x', n);
                p[n] = '\0';
                if (f->kind == ENT_KIND_BYTES) { /* n bytes in base64: 'A's decode to zero bytes */
                    sb b = {0};
                    b64(&b, (const unsigned char *)p, (size_t)n);
                    b.p[b.n - 1] = '\0';
                    json_object_set_new(o, f->name, json_string(b.p + 1));
                    free(b.p);
                } else {
                    json_object_set_new(o, f->name, json_string(p));
                }
                free(p);
                snprintf(what, sizeof what, "%" PRIu64 " bytes (max_length %s)", n, f->has_len ? "set" : "none: index limit");
            } else if (f->kind == ENT_KIND_ARRAY && f->has_len) {
                sb in = {0}, ex = {0};
                sb_add(&in, "[");
                for (uint64_t i = 0; i <= f->max_len; i++) {
                    if (i) sb_add(&in, ",");
                    gen_json(&in, &ex, f->items, s, NULL);
                }
                sb_add(&in, "]");
                json_object_set_new(o, f->name, json_loads(in.p, JSON_ALLOW_NUL, &err));
                free(in.p);
                free(ex.p);
                snprintf(what, sizeof what, "array of %" PRIu64 " items", f->max_len + 1);
            }
            break;
        case 3:
            if (f->nenum) json_object_set_new(o, f->name, json_string("zz-not-in-enum")), snprintf(what, sizeof what, "not in enum");
            break;
        case 4: { /* wrong kind */
            static const char *bad[] = {"\"str\"", "5", "true", "[1]", "{\"a\":1}", "1.5"};
            int b;
            switch (f->kind) {
            case ENT_KIND_BOOL: b = (int)rnd(2) ? 0 : 1; break;
            case ENT_KIND_INT:
            case ENT_KIND_UINT: b = rnd(2) ? 5 : 0; break;
            case ENT_KIND_FLOAT: b = 2; break;
            case ENT_KIND_STRING: b = (int)rnd(2) + 1; break;
            case ENT_KIND_BYTES: json_object_set_new(o, f->name, json_string("!!not base64")), b = -1; break;
            case ENT_KIND_TIMESTAMP: b = rnd(2) ? 0 : 2; break;
            case ENT_KIND_ARRAY: b = 4; break;
            case ENT_KIND_MAP: b = f->nsub ? 3 : 1; break;
            default: b = 2; break; /* ref */
            }
            if (b >= 0) json_object_set_new(o, f->name, json_loads(bad[b], JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
            snprintf(what, sizeof what, "wrong kind");
            break;
        }
        case 5: json_object_set_new(o, "zz", json_integer(1)), snprintf(name, sizeof name, "zz"), snprintf(what, sizeof what, "unknown field"); break;
        case 6:
            if (f->kind == ENT_KIND_REF) {
                json_object_set_new(o, f->name, s->t[f->to].key == ENT_KEY_AUTO ? json_integer(999999999) : json_string("no-such-key"));
                snprintf(what, sizeof what, "dangling ref");
            }
            break;
        case 7: /* a unique value taken */
            if (f->unique) {
                const ment *other = live_at(m, t, rnd(1000));
                json_t *v = other ? json_object_get(other->data, f->name) : NULL;
                if (v) json_object_set(o, f->name, v), snprintf(what, sizeof what, "unique value taken"), want_conflict = 1;
            }
            break;
        case 8: /* a bad key */
            if (ty->key == ENT_KEY_STRING) {
                unsigned r = rnd(3);
                const ment *other = live_at(m, t, rnd(1000));
                free(c.skey);
                if (r == 0 || (r == 2 && !other)) c.skey = strdup("");
                else if (r == 1) c.skey = calloc(ENT_KEY_STRING_MAX + 2, 1), memset(c.skey, 'k', ENT_KEY_STRING_MAX + 1);
                else c.skey = strdup(other->skey), want_conflict = 1;
                snprintf(what, sizeof what, "key of %zu bytes%s", strlen(c.skey), want_conflict ? ", taken" : "");
                *name = '\0';
            }
            break;
        case 9:
            if (f->kind == ENT_KIND_STRING && !f->nenum && !(f->has_len && f->max_len < 2))
                utf8 = 1, snprintf(what, sizeof what, "invalid UTF-8");
            break;
        case 10: /* a declared map's sub-field */
            if (f->kind == ENT_KIND_MAP && f->nsub && json_object_get(o, f->name)) {
                const gf *sf = &f->sub[rnd((unsigned)f->nsub)];
                json_t *mo = json_object_get(o, f->name);
                if (sf->required && !sf->has_def && json_object_get(mo, sf->name))
                    json_object_del(mo, sf->name), snprintf(what, sizeof what, "missing required sub-field");
                else if (sf->kind != ENT_KIND_STRING && sf->kind != ENT_KIND_BYTES && sf->kind != ENT_KIND_MAP)
                    json_object_set_new(mo, sf->name, json_string("str")), snprintf(what, sizeof what, "sub-field of a wrong kind");
                else
                    json_object_set_new(mo, "zz", json_integer(1)), snprintf(what, sizeof what, "unknown sub-field");
                snprintf(name, sizeof name, "%s", f->name);
            }
            break;
        default: break;
        }
    }
    if (!*what) goto out;
    CASE("invalid %s.%s: %s", ty->name, name, what);
    char *in = json_dumps(o, JSON_COMPACT);
    CU_ASSERT_FATAL(in != NULL);
    counts(before, &last0, st, s);
    int rc = ent_entity_from_json(&e, et, in, strlen(in)), stage = 0;
    if (rc == ENT_OK && c.skey) rc = ent_entity_set_key(e, &(ent_key){ENT_KEY_STRING, 0, c.skey, strlen(c.skey)}), stage = 1;
    if (rc == ENT_OK && utf8) rc = ent_entity_set_stringn(e, name, "ok\xff\xfe", 4), stage = 2;
    if (rc == ENT_OK) rc = ent_create(st, g_txn, e), stage = 3;
    if (rc == ENT_OK) {
        failf("accepted (key %" PRIu64 "): %s", ent_entity_key(e).id, in);
        seed_fails += 100; /* the store and the model part: stop this seed */
    } else if (stats.refused++, getenv("ENT_RAND_SCHEMA_VERBOSE") && fprintf(stderr, "\n  %s: %d %s", cur_case, rc, ent_errmsg()) < 0) {
    } else if (!*ent_errmsg()) {
        failf("refused (%d) without a message", rc);
    } else if (*name && !strstr(ent_errmsg(), name)) {
        failf("the message does not name %s: \"%s\"", name, ent_errmsg());
    } else if (want_conflict && stage == 3 && rc != ENT_CONFLICT) {
        failf("refused with %d, not ENT_CONFLICT: %s", rc, ent_errmsg());
    }
    counts(after, &last1, st, s);
    if (memcmp(before, after, sizeof(uint64_t) * (size_t)s->nt) || last0 != last1)
        failf("a refused create wrote (log %" PRIu64 " -> %" PRIu64 ")", last0, last1);
    free(in);
out:
    json_decref(o);
    ent_entity_free(e);
    cand_free(&c);
}

/* A partial update of e: a few top-level fields set (ent_entity_set_json) or unset; an unset
 * field with a default goes back to it, a required one without is refused. */
static void put_update(ent_store *st, const gs *s, model *m, int t, ment *e)
{
    const gt *ty = &s->t[t];
    const ent_type *et = ent_store_type(st, ty->name);
    ent_entity *x = NULL;
    json_t *want = json_deep_copy(e->data);
    ival nv[MAXF];
    int touched[MAXF] = {0}, invalid = 0, conflict = 0, rc;
    ent_key key = ment_key(e);
    memset(nv, 0, sizeof nv);
    ENT_OK_(ent_entity_new(&x, et));
    ENT_OK_(ent_entity_set_key(x, &key));
    for (int n = 1 + (int)rnd(3); n > 0; n--) {
        int k = (int)rnd((unsigned)ty->nf);
        const gf *f = &ty->f[k];
        if (f->removed || touched[k]) continue;
        touched[k] = 1;
        if (rnd(3) == 0) { /* unset */
            if (getenv("ENT_RAND_SCHEMA_VERBOSE")) fprintf(stderr, "\n  %s: unset %s", cur_case, f->name);
            ENT_OK_(ent_entity_unset(x, f->name));
            json_object_del(want, f->name);
            if (f->has_def) {
                sb b = {0};
                json_error_t err;
                put_def(&b, f);
                json_object_set_new(want, f->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
                free(b.p);
                if (is_scalar(f->kind)) ival_copy(&nv[k], &f->def);
            } else if (f->required) {
                invalid = 1;
            }
            continue;
        }
        sb in = {0}, ex = {0};
        json_error_t err;
        if (f->kind == ENT_KIND_REF) {
            const ment *tg = live_at(m, f->to, rnd(1000));
            if (!tg) {
                touched[k] = 0;
                continue;
            }
            nv[k] = (ival){.kind = tg->skey ? ENT_KIND_STRING : ENT_KIND_UINT, .u = tg->id};
            if (tg->skey) nv[k].s = strdup(tg->skey), nv[k].n = strlen(tg->skey);
            put_ival(&in, &nv[k], 1);
            put_ival(&ex, &nv[k], 1);
        } else {
            gen_json(&in, &ex, f, s, is_scalar(f->kind) ? &nv[k] : NULL);
        }
        if (getenv("ENT_RAND_SCHEMA_VERBOSE")) fprintf(stderr, "\n  %s: set %s %s", cur_case, f->name, in.p);
        if ((rc = ent_entity_set_json(x, f->name, in.p)) != ENT_OK) failf("set_json %s %s: %d %s", f->name, in.p, rc, ent_errmsg());
        json_object_set_new(want, f->name, json_loads(ex.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
        free(in.p);
        free(ex.p);
    }
    for (int k = 0; k < ty->nf; k++) { /* a unique value another entity holds */
        if (!touched[k] || !ty->f[k].unique || !nv[k].kind) continue;
        for (int i = 0; i < m->n[t]; i++)
            if (m->e[t][i].live && &m->e[t][i] != e && m->e[t][i].idx[k].kind && !vcmp(&m->e[t][i].idx[k], &nv[k])) conflict = 1;
    }
    rc = ent_update(st, g_txn, x, e->version);
    if (invalid || conflict) {
        if (rc == ENT_OK) failf("update accepted: %s", invalid ? "a required field unset" : "a taken unique value");
        else if (!*ent_errmsg()) failf("update refused without a message");
    } else if (rc != ENT_OK) {
        failf("update refused: %d %s", rc, ent_errmsg());
    } else {
        unsigned given = 0;
        for (int k = 0; k < ty->nf; k++) given |= (unsigned)touched[k] << k;
        /* a field the record lacks, given (or unset: back to its default), is stored (crud.c) */
        /* a write stores the whole record, every default it read with too */
        if (!jeq(want, e->data) || (e->lacks & given)) e->version++, e->lacks = 0;
        json_decref(e->data);
        e->data = want;
        want = NULL;
        for (int k = 0; k < ty->nf; k++) {
            if (!touched[k]) continue;
            ival_free(&e->idx[k]);
            e->idx[k] = nv[k];
            memset(&nv[k], 0, sizeof nv[k]);
        }
        stats.updates++;
        check_get(st, ty, e);
    }
    for (int k = 0; k < MAXF; k++) ival_free(&nv[k]);
    json_decref(want);
    ent_entity_free(x);
}

/* RFC 7396 on the model's JSON: null removes, objects merge, anything else replaces. */
static json_t *merge(json_t *target, json_t *patch)
{
    const char *k;
    json_t *v;
    if (!json_is_object(patch)) return json_incref(patch);
    json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
    json_object_foreach(patch, k, v) {
        if (json_is_null(v)) json_object_del(out, k);
        else json_object_set_new(out, k, merge(json_object_get(out, k), v));
    }
    return out;
}

/* A merge patch (ent_entity_patch_json) of e read back, stored with ent_replace(): fields set,
 * removed (back to their defaults), declared maps merged sub-field by sub-field, free-form maps key
 * by key. */
static void put_patch(ent_store *st, const gs *s, model *m, int t, ment *e)
{
    const gt *ty = &s->t[t];
    ent_entity *x = NULL;
    ent_key key = ment_key(e);
    json_t *pin = json_object(), *pex = json_object(), *want = NULL;
    ival nv[MAXF];
    int touched[MAXF] = {0}, nulled[MAXF] = {0}, conflict = 0, rc;
    json_error_t err;
    memset(nv, 0, sizeof nv);
    for (int n = 1 + (int)rnd(3); n > 0; n--) {
        int k = (int)rnd((unsigned)ty->nf);
        const gf *f = &ty->f[k];
        json_t *old = json_object_get(e->data, f->name);
        sb in = {0}, ex = {0};
        if (f->removed || touched[k]) continue;
        if (rnd(4) == 0 && !(f->required && !f->has_def)) {
            json_object_set_new(pin, f->name, json_null());
            json_object_set_new(pex, f->name, json_null());
            touched[k] = nulled[k] = 1;
            if (f->has_def && is_scalar(f->kind)) ival_copy(&nv[k], &f->def);
            continue;
        }
        if (f->kind == ENT_KIND_REF) {
            const ment *tg = live_at(m, f->to, rnd(1000));
            if (!tg) continue;
            nv[k] = (ival){.kind = tg->skey ? ENT_KIND_STRING : ENT_KIND_UINT, .u = tg->id};
            if (tg->skey) nv[k].s = strdup(tg->skey), nv[k].n = strlen(tg->skey);
            put_ival(&in, &nv[k], 1);
            put_ival(&ex, &nv[k], 1);
        } else if (f->kind == ENT_KIND_MAP && json_is_object(old)) { /* merged into what it holds */
            sb_add(&in, "{");
            sb_add(&ex, "{");
            for (int j = 0; j < (f->nsub ? f->nsub : 3); j++) {
                const gf *c = f->nsub ? &f->sub[j] : NULL;
                char kn[24];
                if (c) snprintf(kn, sizeof kn, "%s", c->name);
                else snprintf(kn, sizeof kn, "k%d", j);
                if (c ? c->removed || c->kind == ENT_KIND_MAP || rnd(2) : rnd(2)) continue;
                for (int p = 0; p < 2; p++) sb_add(p ? &ex : &in, "%s\"%s\":", (p ? ex.p : in.p)[(p ? ex.n : in.n) - 1] == '{' ? "" : ",", kn);
                if (rnd(3) == 0 && !(c && c->required && !c->has_def)) {
                    sb_add(&in, "null");
                    sb_add(&ex, "null");
                } else if (c) {
                    gen_json(&in, &ex, c, s, NULL);
                } else {
                    size_t at = in.n;
                    gen_free(&in, 1);
                    sb_addn(&ex, in.p + at, in.n - at);
                }
            }
            sb_add(&in, "}");
            sb_add(&ex, "}");
        } else {
            gen_json(&in, &ex, f, s, is_scalar(f->kind) ? &nv[k] : NULL);
        }
        json_object_set_new(pin, f->name, json_loads(in.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
        json_object_set_new(pex, f->name, json_loads(ex.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
        free(in.p);
        free(ex.p);
        touched[k] = 1;
    }
    want = merge(e->data, pex);
    for (int k = 0; k < ty->nf; k++) { /* defaults come back: removed fields, and inside merged maps */
        const gf *f = &ty->f[k];
        if (!touched[k] || f->removed) continue;
        json_t *v = json_object_get(want, f->name);
        if (!v && f->has_def) {
            sb b = {0};
            put_def(&b, f);
            json_object_set_new(want, f->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
            free(b.p);
        } else if (v && f->kind == ENT_KIND_MAP && f->nsub) {
            for (int j = 0; j < f->nsub; j++) {
                const gf *c = &f->sub[j];
                if (c->removed || !c->has_def || json_object_get(v, c->name)) continue;
                sb b = {0};
                put_ival(&b, &c->def, 1);
                json_object_set_new(v, c->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
                free(b.p);
            }
        }
        if (ty->f[k].unique && nv[k].kind)
            for (int i = 0; i < m->n[t]; i++)
                if (m->e[t][i].live && &m->e[t][i] != e && m->e[t][i].idx[k].kind && !vcmp(&m->e[t][i].idx[k], &nv[k])) conflict = 1;
    }
    char *ptext = json_dumps(pin, JSON_COMPACT);
    CU_ASSERT_FATAL(ptext != NULL);
    if (getenv("ENT_RAND_SCHEMA_VERBOSE")) {
        char *d = json_dumps(e->data, JSON_COMPACT);
        fprintf(stderr, "\n  %s: patch %s onto %s", cur_case, ptext, d);
        free(d);
    }
    if ((rc = ent_get(&x, st, g_txn, ent_store_type(st, ty->name), &key)) != ENT_OK) {
        failf("get: %d %s", rc, ent_errmsg());
    } else if ((rc = ent_entity_patch_json(x, ptext, strlen(ptext))) != ENT_OK) {
        failf("patch %s: %d %s", ptext, rc, ent_errmsg());
    } else if ((rc = ent_replace(st, g_txn, x, e->version)), conflict) {
        if (rc == ENT_OK) failf("patch %s accepted a taken unique value", ptext);
    } else if (rc != ENT_OK) {
        failf("patch %s: replace %d %s", ptext, rc, ent_errmsg());
    } else {
        /* every field the read entity holds is given to the replace, all but those the patch
         * removed (back to their defaults): one the record lacks is stored (crud.c) */
        unsigned given = 0;
        for (int k = 0; k < ty->nf; k++) given |= (unsigned)!nulled[k] << k;
        if (!jeq(want, e->data) || (e->lacks & given)) e->version++, e->lacks = 0;
        json_decref(e->data);
        e->data = want;
        want = NULL;
        for (int k = 0; k < ty->nf; k++) {
            if (!touched[k] || (!is_scalar(ty->f[k].kind) && ty->f[k].kind != ENT_KIND_REF)) continue;
            ival_free(&e->idx[k]);
            e->idx[k] = nv[k];
            memset(&nv[k], 0, sizeof nv[k]);
        }
        stats.patches++;
        check_get(st, ty, e);
    }
    free(ptext);
    for (int k = 0; k < MAXF; k++) ival_free(&nv[k]);
    json_decref(want);
    json_decref(pin);
    json_decref(pex);
    ent_entity_free(x);
}

static int referenced(const gs *s, const model *m, int t, const ment *e)
{
    for (int u = 0; u < s->nt; u++)
        for (int k = 0; k < s->t[u].nf; k++) {
            const gf *f = &s->t[u].f[k];
            if (f->kind != ENT_KIND_REF || f->to != t || f->removed) continue;
            for (int i = 0; i < m->n[u]; i++) {
                const ival *v = &m->e[u][i].idx[k];
                if (!m->e[u][i].live || !v->kind) continue;
                if (e->skey ? v->kind == ENT_KIND_STRING && !strcmp(v->s, e->skey) : v->u == e->id) return 1;
            }
        }
    return 0;
}

/* Random creates (most valid, some not), replaces and deletes on every type, in type order. */
static void workload(ent_store *st, const gs *s, model *m, int n)
{
    for (int t = 0; t < s->nt && seed_fails < 100; t++) {
        for (int i = 0; i < n && seed_fails < 100; i++) {
            CASE("create %s #%d", s->t[t].name, i);
            if (rnd(3) == 0) put_invalid(st, s, m, t);
            else put_valid(st, s, m, t, NULL);
        }
        for (int i = 0; i < n / 3 && seed_fails < 100; i++) {
            ment *e = (ment *)live_at(m, t, rnd(1000));
            if (!e) break;
            CASE("%s %s #%d", i % 3 == 1 ? "update" : i % 3 ? "patch" : "replace", s->t[t].name, i);
            if (i % 3 == 1) put_update(st, s, m, t, e);
            else if (i % 3 == 2) put_patch(st, s, m, t, e);
            else put_valid(st, s, m, t, e);
        }
        for (int i = 0; i < n / 6 && seed_fails < 100; i++) {
            ment *e = (ment *)live_at(m, t, rnd(1000));
            if (!e) break;
            CASE("delete %s #%d", s->t[t].name, i);
            ent_key key = ment_key(e);
            int ref = referenced(s, m, t, e);
            int rc = ent_delete(st, g_txn, ent_store_type(st, s->t[t].name), &key, ENT_VERSION_ANY);
            if (rc != (ref ? ENT_CONFLICT : ENT_OK)) failf("delete: %d (referenced: %d) %s", rc, ref, ent_errmsg());
            if (rc == ENT_OK) e->live = 0, stats.deletes++;
        }
    }
}

/* The workload inside one write transaction, then committed (the model as it goes) or aborted (the
 * model as before): each refused call inside it writes nothing and the others stay. */
static void workload_txn(ent_store *st, const gs *s, model *m, int n)
{
    model before;
    int abort_it = rnd(3) == 0, rc;
    if (abort_it) model_clone(&before, m);
    CASE("txn begin");
    if ((rc = ent_txn_begin(&g_txn, st, ENT_TXN_WRITE)) != ENT_OK) {
        failf("%d %s", rc, ent_errmsg());
        if (abort_it) model_free(&before);
        return;
    }
    workload(st, s, m, n);
    if (abort_it) {
        ent_txn_abort(g_txn);
        model_free(m);
        *m = before;
    } else if ((rc = ent_txn_commit(g_txn)) != ENT_OK) {
        CASE("txn commit");
        failf("%d %s", rc, ent_errmsg());
    }
    g_txn = NULL;
    stats.txns++;
}

/* ---- the entity tool ----------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    sb b = {0};
    char buf[4096];
    size_t n;
    if (!f) return NULL;
    sb_addn(&b, "", 0);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    fclose(f);
    return b.p;
}

static int sh(const char *fmt, ...)
{
    char cmd[4 * ENT_TEST_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof cmd);
    int rc = system(cmd);
    if (rc != 0) failf("exit %d: %s", rc, cmd);
    return rc;
}

static void check_copy(const char *dir, const gs *s, const model *m, const char *what)
{
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.no_create = 1;
    CASE("%s: open", what);
    int rc = ent_store_open(&st, dir, NULL, &o);
    if (rc != ENT_OK) {
        failf("%d %s", rc, ent_errmsg());
        return;
    }
    check_store(st, s, m, what);
    ent_store_close(st);
}

/* v as the entity tool takes a value on its command line (unquoted). */
static void cli_text(sb *b, const ival *v)
{
    sb t = {0};
    switch (v->kind) {
    case ENT_KIND_STRING: sb_addn(b, v->s, v->n); return;
    case ENT_KIND_BYTES:
    case ENT_KIND_TIMESTAMP:
        if (v->kind == ENT_KIND_TIMESTAMP && rnd(2)) return sb_add(b, "%" PRId64, v->i);
        put_ival(&t, v, 1);
        sb_addn(b, t.p + 1, t.n - 2); /* without its quotes */
        free(t.p);
        return;
    case ENT_KIND_FLOAT:
        if (isnan(v->f) || isinf(v->f)) return sb_add(b, isnan(v->f) ? "NaN" : v->f > 0 ? "Infinity" : "-Infinity");
        return sb_add(b, "%.17g", v->f);
    case ENT_KIND_UINT: return sb_add(b, "%" PRIu64, v->u);
    default: put_ival(b, v, 1);
    }
}

/* `find TYPE FIELD VALUE` on the tool for a few values of every index: as many lines as the model. */
static void cli_find(const char *qcli, const char *qstore, const char *base, const gs *s, const model *m)
{
    char out[ENT_TEST_PATH_MAX], qv[4 * 1024 + 3], qb[4 * ENT_TEST_PATH_MAX + 3];
    ENT_TEST_PATH(out, "%s/found", base);
    ent_test_sh_word(qb, sizeof qb, out);
    for (int t = 0; t < s->nt; t++)
        for (int k = 0; k < s->t[t].nf; k++) {
            const gf *f = &s->t[t].f[k];
            if (f->removed || !is_idx(f)) continue;
            for (int r = 0; r < 3; r++) {
                const ment *e = live_at(m, t, rnd(1000));
                if (!e || !e->idx[k].kind) continue;
                if (e->idx[k].kind == ENT_KIND_STRING && memchr(e->idx[k].s, 0, e->idx[k].n)) continue; /* argv */
                size_t want = 0, got = 0;
                for (int i = 0; i < m->n[t]; i++)
                    want += m->e[t][i].live && m->e[t][i].idx[k].kind && !vcmp(&m->e[t][i].idx[k], &e->idx[k]);
                sb v = {0};
                cli_text(&v, &e->idx[k]);
                CASE("cli find %s %s %.60s", s->t[t].name, f->name, v.p);
                ent_test_sh_word(qv, sizeof qv, v.p);
                free(v.p);
                if (sh("%s -s %s find %s %s -- %s > %s", qcli, qstore, s->t[t].name, f->name, qv, qb)) return;
                char *text = slurp(out);
                for (char *p = text; p && *p; p++) got += *p == '\n';
                if (got != want) failf("%zu lines, the model has %zu", got, want);
                free(text);
            }
        }
}

/* `init --schema`, then `put TYPE [--key K] -` of every entity (targets first; auto keys are
 * new ids, 1 up, and refs to them follow): `dump` gives the model's entities, each at version 1. */
static void cli_put(const char *qcli, const char *base, const char *schema_file, const gs *s, const model *m)
{
    char dir[ENT_TEST_PATH_MAX], in[ENT_TEST_PATH_MAX], out[ENT_TEST_PATH_MAX], qd[4 * ENT_TEST_PATH_MAX + 3],
        qb[4 * ENT_TEST_PATH_MAX + 3], qk[4 * 300 + 3];
    uint64_t *newid[MAXT] = {0};
    json_t *sent[MAXT] = {0}; /* per type: the data put, by model index */
    size_t want = 0, lines = 0;
    ENT_TEST_PATH(dir, "%s/put", base);
    ENT_TEST_PATH(in, "%s/put.json", base);
    ENT_TEST_PATH(out, "%s/put.dump", base);
    ent_test_sh_word(qd, sizeof qd, dir);
    ent_test_sh_word(qb, sizeof qb, base);
    CASE("cli put: init");
    if (sh("%s -s %s init --schema %s/%s --durability none 2>/dev/null", qcli, qd, qb, schema_file)) return;
    for (int t = 0; t < s->nt; t++) {
        uint64_t next = 1;
        newid[t] = calloc((size_t)m->n[t] + 1, sizeof *newid[t]);
        sent[t] = json_array();
        CU_ASSERT_FATAL(newid[t] && sent[t]);
        for (int i = 0; i < m->n[t]; i++) {
            const ment *e = &m->e[t][i];
            json_t *d = json_deep_copy(e->data);
            json_array_append_new(sent[t], d);
            if (!e->live) continue;
            want++;
            for (int k = 0; k < s->t[t].nf; k++) { /* a ref to an auto key: the target's new id */
                const gf *f = &s->t[t].f[k];
                if (f->removed || f->kind != ENT_KIND_REF || s->t[f->to].key != ENT_KEY_AUTO || !e->idx[k].kind) continue;
                for (int j = 0; j < m->n[f->to]; j++)
                    if (m->e[f->to][j].live && m->e[f->to][j].id == e->idx[k].u)
                        json_object_set_new(d, f->name, json_integer((json_int_t)newid[f->to][j]));
            }
            if (e->skey) ent_test_sh_word(qk, sizeof qk, e->skey);
            else newid[t][i] = next++;
            CASE("cli put %s %.60s", s->t[t].name, e->skey ? qk : "(new id)");
            FILE *f = fopen(in, "w");
            CU_ASSERT_FATAL(f != NULL);
            CU_ASSERT_FATAL(json_dumpf(d, f, JSON_COMPACT) == 0);
            fclose(f);
            if (sh("%s -s %s put %s %s %s - < %s/put.json > /dev/null", qcli, qd, s->t[t].name, e->skey ? "--key" : "",
                   e->skey ? qk : "", qb))
                goto out;
        }
    }
    CASE("cli put: dump");
    if (sh("%s -s %s dump > %s/put.dump", qcli, qd, qb)) goto out;
    char *text = slurp(out), *line = text, *nl;
    int ended = 0;
    for (; line && *line; line = nl + 1) {
        json_error_t err;
        if (!(nl = strchr(line, '\n'))) break;
        json_t *j = json_loadb(line, (size_t)(nl - line), JSON_ALLOW_NUL, &err), *k = json_object_get(j, "key"), *d = NULL;
        const char *tn = json_string_value(json_object_get(j, "type"));
        if (json_object_get(j, "dump") || json_object_get(j, "end")) { /* the dump's header and end line */
            ended = json_object_get(j, "end") != NULL && !nl[1];
            json_decref(j);
            continue;
        }
        if (json_object_get(j, "last_id")) { /* a type's id counter: the last id the puts were given */
            uint64_t last = 0;
            for (int t = 0; t < s->nt && tn; t++)
                for (int i = 0; i < m->n[t] && !strcmp(tn, s->t[t].name); i++)
                    if (m->e[t][i].live && !m->e[t][i].skey && newid[t][i] > last) last = newid[t][i];
            if (!json_is_integer(json_object_get(j, "last_id")) || (uint64_t)json_integer_value(json_object_get(j, "last_id")) != last)
                failf("dump's id counter line %.*s, the last id put %llu", (int)(nl - line), line, (unsigned long long)last);
            json_decref(j);
            continue;
        }
        lines++;
        for (int t = 0; t < s->nt && tn; t++)
            for (int i = 0; i < m->n[t] && !strcmp(tn, s->t[t].name); i++) {
                const ment *c = &m->e[t][i];
                if (c->live && (c->skey ? json_is_string(k) && !strcmp(json_string_value(k), c->skey)
                                        : json_is_integer(k) && (uint64_t)json_integer_value(k) == newid[t][i]))
                    d = json_array_get(sent[t], (size_t)i);
            }
        if (!d) failf("dump line %zu names no entity put: %.*s", lines, (int)(nl - line), line);
        else if (!jeq(json_object_get(j, "data"), d) || json_integer_value(json_object_get(j, "version")) != 1)
            failf("dump line %zu: %.*s", lines, (int)(nl - line), line);
        json_decref(j);
    }
    if (lines != want) failf("dump of %zu lines, %zu entities put", lines, want);
    if (!ended) failf("the dump does not end with its end line");
    free(text);
out:
    for (int t = 0; t < MAXT; t++) free(newid[t]), json_decref(sent[t]);
}

/* dump, load into a store of `schema_file`, replay, check: the same entities everywhere. */
static void cli_round_trip(const char *cli, const char *base, const char *src, const char *schema_file, const gs *s,
                           const model *m, int round)
{
    char q[5][4 * ENT_TEST_PATH_MAX + 3], d1[ENT_TEST_PATH_MAX], d2[ENT_TEST_PATH_MAX], d3[ENT_TEST_PATH_MAX],
        b[ENT_TEST_PATH_MAX], c[ENT_TEST_PATH_MAX], ck[ENT_TEST_PATH_MAX];
    ENT_TEST_PATH(d1, "%s/dump%d-a", base, round);
    ENT_TEST_PATH(d2, "%s/dump%d-b", base, round);
    ENT_TEST_PATH(d3, "%s/dump%d-c", base, round);
    ENT_TEST_PATH(b, "%s/loaded%d", base, round);
    ENT_TEST_PATH(c, "%s/replayed%d", base, round);
    ENT_TEST_PATH(ck, "%s/check%d", base, round);
    ent_test_sh_word(q[0], sizeof q[0], cli);
    ent_test_sh_word(q[1], sizeof q[1], src);
    ent_test_sh_word(q[2], sizeof q[2], b);
    ent_test_sh_word(q[3], sizeof q[3], c);
    ent_test_sh_word(q[4], sizeof q[4], base);
    CASE("cli %d: check", round);
    if (sh("%s -s %s check > %s/check%d 2>&1", q[0], q[1], q[4], round)) return;
    char *ok = slurp(ck);
    if (!ok || strcmp(ok, "ok\n")) failf("check says: %s", ok ? ok : "(nothing)");
    free(ok);
    CASE("cli %d: dump, init, load, dump", round);
    if (sh("%s -s %s dump > %s/dump%d-a", q[0], q[1], q[4], round)) return;
    if (sh("%s -s %s init --schema %s/%s --durability none 2>/dev/null", q[0], q[2], q[4], schema_file)) return;
    if (sh("%s -s %s load < %s/dump%d-a 2>/dev/null", q[0], q[2], q[4], round)) return;
    if (sh("%s -s %s dump > %s/dump%d-b", q[0], q[2], q[4], round)) return;
    CASE("cli %d: replay --into, dump", round);
    if (sh("%s -s %s replay --into %s 2>/dev/null", q[0], q[1], q[3])) return;
    if (sh("%s -s %s dump > %s/dump%d-c", q[0], q[3], q[4], round)) return;
    char *a1 = slurp(d1), *a2 = slurp(d2), *a3 = slurp(d3);
    CASE("cli %d: dumps", round);
    if (!a1 || !a2 || !a3) failf("a dump is missing");
    else if (strcmp(a1, a2)) failf("dump of the loaded store differs:\n%s\n---\n%s", a1, a2);
    else if (strcmp(a1, a3)) failf("dump of the replayed store differs:\n%s\n---\n%s", a1, a3);
    free(a1);
    free(a2);
    free(a3);
    if (sh("%s -s %s check > /dev/null 2>&1", q[0], q[2]) || sh("%s -s %s check > /dev/null 2>&1", q[0], q[3])) return;
    cli_find(q[0], q[2], base, s, m);
    if (!round) cli_put(q[0], base, schema_file, s, m);
    stats.cli_rounds++;
    check_copy(b, s, m, round ? "loaded (evolved)" : "loaded");
    check_copy(c, s, m, round ? "replayed (evolved)" : "replayed");
}

/* ---- evolution ----------------------------------------------------------------------------- */

static unsigned enum_added; /* names of enum values added by evolutions: never one twice */

/* Change s into a newer version the README allows; the model's expectations follow. */
static void evolve(gs *s, model *m)
{
    s->version++;
    int changes = 1 + (int)rnd(4);
    for (int c = 0; c < changes; c++) {
        int t = (int)rnd((unsigned)s->nt);
        gt *ty = &s->t[t];
        int k = (int)rnd((unsigned)ty->nf);
        gf *f = &ty->f[k];
        switch (rnd(8)) {
        case 0: /* a new field: optional, or required with a default */
            if (ty->nf < MAXF) {
                gf *n = &ty->f[ty->nf];
                memset(n, 0, sizeof *n);
                snprintf(n->name, sizeof n->name, "n%d", ty->nf);
                n->id = 2000 + (unsigned)ty->nf;
                gen_field(n, s, t, 0, 1);
                if (n->kind == ENT_KIND_MAP) { /* old entities lack it: nothing of it may be required */
                    gf_free(n);
                    n->kind = ENT_KIND_BOOL;
                    snprintf(n->name, sizeof n->name, "n%d", ty->nf);
                    n->id = 2000 + (unsigned)ty->nf;
                }
                if (n->has_def) n->unique = 0; /* every old entity would share the default */
                if (n->required && !n->has_def) n->required = 0;
                if (n->kind == ENT_KIND_REF) n->required = 0, n->unique = 0;
                ty->nf++;
                for (int i = 0; i < m->n[t]; i++) {
                    ment *e = &m->e[t][i];
                    if (!n->has_def) continue;
                    sb b = {0};
                    put_def(&b, n);
                    json_error_t err;
                    json_object_set_new(e->data, n->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
                    free(b.p);
                    if (is_scalar(n->kind)) ival_copy(&e->idx[ty->nf - 1], &n->def);
                    e->lacks |= 1u << (ty->nf - 1);
                }
            }
            break;
        case 1: /* an index added or dropped, or made unique where the values are distinct */
            if (f->removed || !is_scalar(f->kind)) break;
            if (f->unique) {
                f->unique = 0;
            } else if (rnd(3) == 0) {
                int dup = 0;
                for (int i = 0; i < m->n[t]; i++)
                    for (int j = 0; j < i; j++) {
                        const ment *a = &m->e[t][i], *b = &m->e[t][j];
                        if (a->live && b->live && a->idx[k].kind && b->idx[k].kind && !vcmp(&a->idx[k], &b->idx[k])) dup = 1;
                    }
                if (!dup) f->unique = 1, f->indexed = 0;
            } else {
                f->indexed = !f->indexed;
            }
            if (f->kind == ENT_KIND_STRING || f->kind == ENT_KIND_BYTES) /* the README: values over the key limit refuse it */
                for (int i = 0; i < m->n[t] && is_idx(f); i++)
                    if (m->e[t][i].live && m->e[t][i].idx[k].n > IDX_MAX) f->unique = f->indexed = 0;
            break;
        case 2: /* limits relaxed */
            f->has_min = f->has_max = 0;
            if (f->kind != ENT_KIND_STRING || !f->nenum || rnd(2)) f->has_len = 0;
            if (f->nenum && f->nenum < 4) snprintf(f->enums[f->nenum++], sizeof f->enums[0], "added%u", ++enum_added);
            break;
        case 3: /* a field removed (not a ref: its target's deletes would still be guarded by old values) */
            if (f->kind == ENT_KIND_REF || f->removed) break;
            {
                int left = 0;
                for (int i = 0; i < ty->nf; i++) left += !ty->f[i].removed;
                if (left < 2) break;
            }
            f->removed = 1;
            for (int i = 0; i < m->n[t]; i++) {
                m->e[t][i].lacks &= ~(1u << k);
                json_object_del(m->e[t][i].data, f->name);
                ival_free(&m->e[t][i].idx[k]);
                memset(&m->e[t][i].idx[k], 0, sizeof(ival));
            }
            break;
        case 5: /* a default added or changed: records without the field read with the new one */
            if (f->removed || !is_scalar(f->kind) || f->unique || !(m->n[t] || rnd(2))) break;
            ival_free(&f->def);
            f->has_def = 1;
            gen_default(&f->def, f, s);
            for (int i = 0; i < m->n[t]; i++) {
                ment *e = &m->e[t][i];
                if (json_object_get(e->data, f->name) && !(e->lacks & 1u << k)) continue;
                sb b = {0};
                json_error_t err;
                put_ival(&b, &f->def, 1);
                json_object_set_new(e->data, f->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
                free(b.p);
                ival_free(&e->idx[k]);
                ival_copy(&e->idx[k], &f->def);
                e->lacks |= 1u << k;
            }
            break;
        case 6: /* a declared map's sub-field added (optional, maybe with a default) or removed */
            if (f->removed || f->kind != ENT_KIND_MAP || !f->nsub || f->defin) break; /* a default must fit */
            if (rnd(2)) {
                int live = 0, j = (int)rnd((unsigned)f->nsub);
                for (int i = 0; i < f->nsub; i++) live += !f->sub[i].removed;
                if (live < 2 || f->sub[j].removed) break;
                f->sub[j].removed = 1;
                for (int i = 0; i < m->n[t]; i++) {
                    json_t *mo = json_object_get(m->e[t][i].data, f->name);
                    if (json_is_object(mo)) json_object_del(mo, f->sub[j].name);
                }
            } else {
                gf *ns = realloc(f->sub, (size_t)(f->nsub + 1) * sizeof *ns);
                CU_ASSERT_FATAL(ns != NULL);
                f->sub = ns;
                gf *n = &f->sub[f->nsub];
                memset(n, 0, sizeof *n);
                snprintf(n->name, sizeof n->name, "s%d", f->nsub);
                n->id = 500 + (unsigned)f->nsub;
                do n->kind = (ent_kind)(ENT_KIND_BOOL + (int)rnd(7));
                while (!is_scalar(n->kind));
                gen_limits(n, 1);
                if (rnd(2)) n->has_def = 1, gen_default(&n->def, n, s);
                f->nsub++;
                for (int i = 0; i < m->n[t] && n->has_def; i++) {
                    json_t *mo = json_object_get(m->e[t][i].data, f->name);
                    sb b = {0};
                    json_error_t err;
                    if (!json_is_object(mo)) continue;
                    put_ival(&b, &n->def, 1);
                    json_object_set_new(mo, n->name, json_loads(b.p, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
                    free(b.p);
                }
            }
            break;
        case 4: /* a new type */
            if (s->nt < MAXT) {
                gt *n = &s->t[s->nt];
                memset(n, 0, sizeof *n);
                snprintf(n->name, sizeof n->name, "t%d", s->nt);
                n->key = rnd(2) ? ENT_KEY_AUTO : ENT_KEY_STRING;
                n->nf = 1 + (int)rnd(5);
                for (int i = 0; i < n->nf; i++) {
                    snprintf(n->f[i].name, sizeof n->f[i].name, "f%d", i);
                    n->f[i].id = (unsigned)i + 1;
                    gen_field(&n->f[i], s, s->nt, 0, 1);
                }
                s->nt++;
            }
            break;
        default: break;
        }
    }
}

/* An evolution the README refuses, made of s and undone: ENT_SCHEMA naming the type, the store as it was. */
static void try_bad_evolution(gs *s, const model *m, const char *dir, const ent_store_opts *o)
{
    int t = (int)rnd((unsigned)s->nt), k = (int)rnd((unsigned)s->t[t].nf), what = (int)rnd(4);
    gt *ty = &s->t[t];
    gf *f = &ty->f[k];
    char *js;
    ent_schema *sch = NULL;
    ent_store *st = NULL;
    const char *why = NULL;
    if (f->removed) return;
    s->version++;
    if (what == 0) {
        ty->key = ty->key == ENT_KEY_AUTO ? ENT_KEY_STRING : ENT_KEY_AUTO, why = "key kind changed";
    } else if (what == 1 && ty->nf < MAXF) {
        gf *n = &ty->f[ty->nf++];
        memset(n, 0, sizeof *n);
        snprintf(n->name, sizeof n->name, "bad");
        n->id = 3000;
        n->kind = ENT_KIND_INT;
        n->required = 1;
        why = "new required field without a default";
    } else if (what == 2 && (f->kind == ENT_KIND_STRING || f->kind == ENT_KIND_BYTES) && !f->has_len) {
        f->has_len = 1, f->max_len = 100000, why = "max_length added";
    } else if (what == 3 && f->kind == ENT_KIND_BOOL && !f->has_def) {
        f->kind = ENT_KIND_INT, why = "field's type changed";
    }
    js = why ? schema_json(s) : NULL;
    if (what == 0) ty->key = ty->key == ENT_KEY_AUTO ? ENT_KEY_STRING : ENT_KEY_AUTO;
    else if (what == 1 && why) ty->nf--;
    else if (what == 2 && why) f->has_len = 0;
    else if (what == 3 && why) f->kind = ENT_KIND_BOOL;
    s->version--;
    if (!why) return;
    CASE("refused evolution (%s of %s.%s)", why, ty->name, what == 1 ? "bad" : f->name);
    int rc = ent_schema_load_json(&sch, js, strlen(js), "bad.json");
    if (rc == ENT_OK && (rc = ent_store_open(&st, dir, sch, o)) != ENT_SCHEMA) failf("open: %d, not ENT_SCHEMA", rc);
    else if (rc == ENT_SCHEMA && !strstr(ent_errmsg(), ty->name)) failf("the message does not name %s: %s", ty->name, ent_errmsg());
    ent_store_close(st);
    st = NULL;
    if (!seed_fails && (rc = ent_store_open(&st, dir, NULL, o)) != ENT_OK) failf("reopen: %d %s", rc, ent_errmsg());
    if (!seed_fails) check_store(st, s, m, "after a refused evolution");
    ent_store_close(st);
    ent_schema_free(sch);
    free(js);
}

/* ---- one seed ------------------------------------------------------------------------------ */

static void run_seed(unsigned long long seed, const char *cli)
{
    static const char *const backends[] = {"memory", "lmdb"};
    char base[ENT_TEST_PATH_MAX], dir[ENT_TEST_PATH_MAX], sf[ENT_TEST_PATH_MAX];
    for (int bi = 0; bi < 2; bi++) {
        gs s;
        model m = {0};
        ent_schema *sch = NULL;
        ent_store *st = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        cur_seed = seed;
        cur_backend = backends[bi];
        seed_fails = 0;
        rs = seed * 0x9e3779b97f4a7c15ULL + 1; /* the same schema and data on both backends */
        gen_schema(&s);
        char *js = schema_json(&s);
        CASE("load the schema");
        int rc = ent_schema_load_json(&sch, js, strlen(js), "rand.json");
        if (rc != ENT_OK) {
            failf("refused: %s\n  %s", ent_errmsg(), js);
            free(js);
            schema_free(&s);
            return;
        }
        ENT_TEST_MKDTEMP(base, "rand-schema");
        ENT_TEST_PATH(dir, "%s/store", base);
        ENT_TEST_PATH(sf, "%s/schema1.json", base);
        FILE *fp = fopen(sf, "w");
        CU_ASSERT_FATAL(fp != NULL);
        fputs(js, fp);
        fclose(fp);
        o.backend = backends[bi];
        o.durability = ENT_NONE;
        CASE("open");
        if ((rc = ent_store_open(&st, dir, sch, &o)) != ENT_OK) {
            failf("%d %s", rc, ent_errmsg());
            goto next;
        }
        workload(st, &s, &m, 6 + (int)rnd(14));
        if (seed_fails < 100) check_store(st, &s, &m, "after the workload");
        if (!seed_fails) workload_txn(st, &s, &m, 3 + (int)rnd(8));
        if (!seed_fails) check_store(st, &s, &m, "after a transaction");
        if (bi == 0 || seed_fails) goto next; /* the memory store ends with its handle */
        ent_store_close(st);
        st = NULL;
        if (cli) cli_round_trip(cli, base, dir, "schema1.json", &s, &m, 0);
        /* evolve, reopen, read everything, write more; once to three times */
        for (int round = 1, rounds = 1 + (int)rnd(3); round <= rounds && !seed_fails; round++) {
            try_bad_evolution(&s, &m, dir, &o);
            evolve(&s, &m);
            free(js);
            js = schema_json(&s);
            ent_schema_free(sch);
            sch = NULL;
            CASE("evolution %d: load the schema", round);
            if ((rc = ent_schema_load_json(&sch, js, strlen(js), "rand2.json")) != ENT_OK) {
                failf("refused: %s\n  %s", ent_errmsg(), js);
                goto next;
            }
            CASE("evolution %d: open with the schema", round);
            if ((rc = ent_store_open(&st, dir, sch, &o)) != ENT_OK) {
                failf("%d %s\n  %s", rc, ent_errmsg(), js);
                goto next;
            }
            stats.evolutions++;
            check_store(st, &s, &m, "evolved");
            if (!seed_fails) workload(st, &s, &m, 4 + (int)rnd(6));
            if (!seed_fails) check_store(st, &s, &m, "evolved, written");
            ent_store_close(st);
            st = NULL;
        }
        if (cli && !seed_fails) {
            ENT_TEST_PATH(sf, "%s/schema2.json", base);
            fp = fopen(sf, "w");
            CU_ASSERT_FATAL(fp != NULL);
            fputs(js, fp);
            fclose(fp);
            cli_round_trip(cli, base, dir, "schema2.json", &s, &m, 1);
        }
    next:
        if (seed_fails) fprintf(stderr, "  seed %llu (%s): schema %s\n", seed, cur_backend, js);
        ent_store_close(st);
        ent_schema_free(sch);
        free(js);
        model_free(&m);
        schema_free(&s);
        ent_test_rm_rf(base);
    }
}

static void test_random_schemas(void)
{
    unsigned long long first = 1, n = 24;
    const char *cli = getenv("ENTITY_CLI");
    if (getenv("ENT_RAND_SCHEMA_FIRST")) first = strtoull(getenv("ENT_RAND_SCHEMA_FIRST"), NULL, 10);
    if (getenv("ENT_RAND_SCHEMA_SEEDS")) n = strtoull(getenv("ENT_RAND_SCHEMA_SEEDS"), NULL, 10);
    if (cli && !*cli) cli = NULL;
    if (!cli) fprintf(stderr, "\n  ENTITY_CLI unset: the entity tool's part is skipped\n");
    for (unsigned long long seed = first; seed < first + n; seed++) run_seed(seed, cli);
    fprintf(stderr, "\n  seeds %llu..%llu: %lu write txns, %lu creates, %lu replaces, %lu updates, %lu patches, %lu deletes, %lu invalid ones refused, "
            "%lu look-ups, %lu ranges, %lu evolutions, %lu tool round trips\n", first, first + n - 1, stats.txns, stats.creates,
            stats.replaces, stats.updates, stats.patches, stats.deletes, stats.refused, stats.finds, stats.ranges, stats.evolutions, stats.cli_rounds);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_random_schemas), {NULL, NULL}};
    return ent_test_run("rand_schema", cases);
}
