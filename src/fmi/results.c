/*
 * results.c - the result recorder (CSV / JSON streamed through a private
 * buffer) and fmi_format_double(), the shortest round-trip float printer.
 *
 * Float printing follows the method of Ulf Adams' paper "Ryu: fast
 * float-to-string conversion" (PLDI 2018): the bounds of the interval that
 * rounds to the value are scaled by a power of ten with 128-bit fixed-point
 * multipliers, and decimal digits are dropped while the interval still
 * holds a shorter number. The multiplier tables (5^i and 2^k/5^q, 125 bits
 * each) are computed once at start-up with a small bignum instead of being
 * shipped as constants. The same core prints float32 values with float32
 * bounds. What does not live here: reading values (instance.c) and the
 * simulation loop (sim.c).
 */
#include "results.h"

#include "util/error.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Shortest round-trip formatting                                          */
/* ---------------------------------------------------------------------- */

__extension__ typedef unsigned __int128 u128;

#define POW5_INV_BITS 125
#define POW5_BITS 125
#define POW5_INV_N 342 /* q in [0, 341]: enough for e2 up to 1023 + 52 + 2 */
#define POW5_N 326     /* i in [0, 325]: enough for e2 down to -1074 - 2 */

static uint64_t pow5_inv[POW5_INV_N][2]; /* floor(2^(pow5bits(q)-1+125) / 5^q) + 1, lo/hi */
static uint64_t pow5[POW5_N][2];         /* top 125 bits of 5^i, lo/hi */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int tables_ready; /* set (release) once the tables are built */

/* ceil(log2(5^e)) for e >= 1, 1 for e == 0 (valid for 0 <= e <= 3528). */
static inline int pow5bits(int e)
{
    return (int)(((uint32_t)e * 1217359u) >> 19) + 1;
}

/* floor(log10(2^e)) for 0 <= e <= 1650. */
static inline int log10_pow2(int e)
{
    return (int)(((uint32_t)e * 78913u) >> 18);
}

/* floor(log10(5^e)) for 0 <= e <= 2620. */
static inline int log10_pow5(int e)
{
    return (int)(((uint32_t)e * 732923u) >> 20);
}

/* Little bignum, 32-bit limbs, just enough for the tables. */
#define BIG_LIMBS 40
typedef struct {
    uint32_t d[BIG_LIMBS];
    int n;
} big;

static void big_mul_small(big *b, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t x = (uint64_t)b->d[i] * m + carry;
        b->d[i] = (uint32_t)x;
        carry = x >> 32;
    }
    if (carry)
        b->d[b->n++] = (uint32_t)carry;
}

static void big_div_small(big *b, uint32_t m)
{
    uint64_t rem = 0;
    for (int i = b->n - 1; i >= 0; i--) {
        uint64_t x = (rem << 32) | b->d[i];
        b->d[i] = (uint32_t)(x / m);
        rem = x % m;
    }
    while (b->n > 0 && b->d[b->n - 1] == 0)
        b->n--;
}

static int big_bits(const big *b)
{
    if (b->n == 0)
        return 0;
    return 32 * (b->n - 1) + (32 - __builtin_clz(b->d[b->n - 1]));
}

/* Bits [shift, shift + 128) of b (shift may be negative: shifts left). */
static u128 big_bits_at(const big *b, int shift)
{
    u128 r = 0;
    for (int i = b->n - 1; i >= 0; i--) {
        int pos = 32 * i - shift; /* where limb i lands */
        if (pos >= 128 || pos <= -32)
            continue;
        if (pos >= 0)
            r |= (u128)b->d[i] << pos;
        else
            r |= (u128)(b->d[i] >> -pos);
    }
    return r;
}

static void make_tables(void)
{
    big p = { { 1 }, 1 };
    for (int i = 0; i < POW5_N; i++) {
        /* p == 5^i; its bit length is pow5bits(i) */
        u128 v = big_bits_at(&p, big_bits(&p) - POW5_BITS);
        pow5[i][0] = (uint64_t)v;
        pow5[i][1] = (uint64_t)(v >> 64);
        big_mul_small(&p, 5);
    }
    for (int q = 0; q < POW5_INV_N; q++) {
        int k = pow5bits(q) - 1 + POW5_INV_BITS;
        big b;
        memset(&b, 0, sizeof b);
        b.n = k / 32 + 1;
        b.d[k / 32] = 1u << (k % 32);
        int left = q;
        for (; left >= 13; left -= 13)
            big_div_small(&b, 1220703125u); /* 5^13 */
        uint32_t r = 1;
        while (left-- > 0)
            r *= 5;
        big_div_small(&b, r);
        u128 v = big_bits_at(&b, 0) + 1;
        pow5_inv[q][0] = (uint64_t)v;
        pow5_inv[q][1] = (uint64_t)(v >> 64);
    }
    __atomic_store_n(&tables_ready, 1, __ATOMIC_RELEASE);
}

/* Builds the tables on first use; afterwards one load, no call. */
static inline void need_tables(void)
{
    if (!__atomic_load_n(&tables_ready, __ATOMIC_ACQUIRE))
        pthread_once(&tables_once, make_tables);
}

/* (m * mul) >> j for m < 2^56, mul < 2^126, 64 <= j < 192. */
static inline uint64_t mul_shift(uint64_t m, const uint64_t *mul, int j)
{
    u128 b0 = (u128)m * mul[0];
    u128 b2 = (u128)m * mul[1];
    return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

static inline bool multiple_of_pow5(uint64_t v, int p)
{
    int count = 0;
    while (v > 0 && v % 5 == 0) {
        v /= 5;
        count++;
    }
    return count >= p;
}

static inline bool multiple_of_pow2(uint64_t v, int p)
{
    return (v & ((UINT64_C(1) << p) - 1)) == 0;
}

/* The shortest decimal digits*10^exp in the rounding interval of the
 * binary float with raw fields (ieee_m, ieee_e), `mbits` mantissa bits and
 * exponent `bias`; the one closest to the value if there are several. The
 * value must be finite and non-zero. */
static void shortest(uint64_t ieee_m, uint32_t ieee_e, int mbits, int bias, uint64_t *digits, int *exp)
{
    int e2;
    uint64_t m2;
    if (ieee_e == 0) {
        e2 = 1 - bias - mbits - 2;
        m2 = ieee_m;
    } else {
        e2 = (int)ieee_e - bias - mbits - 2;
        m2 = (UINT64_C(1) << mbits) | ieee_m;
    }
    bool accept_bounds = (m2 & 1) == 0; /* round-half-even reads the bounds back to us */
    /* Value, upper and lower bound, times 4 (so the halfway points are
     * integers); the lower gap is half as wide at a power of two. */
    uint64_t mv = 4 * m2;
    uint32_t mm_shift = ieee_m != 0 || ieee_e <= 1;

    uint64_t vr, vp, vm;
    int e10;
    bool vm_trailing_zeros = false, vr_trailing_zeros = false;
    if (e2 >= 0) {
        int q = log10_pow2(e2) - (e2 > 3);
        e10 = q;
        int k = POW5_INV_BITS + pow5bits(q) - 1;
        int i = -e2 + q + k;
        vr = mul_shift(mv, pow5_inv[q], i);
        vp = mul_shift(mv + 2, pow5_inv[q], i);
        vm = mul_shift(mv - 1 - mm_shift, pow5_inv[q], i);
        if (q <= 21) {
            /* Only one of mv - 2, mv - 1, mv, mv + 2 can be a multiple of 5. */
            if (mv % 5 == 0)
                vr_trailing_zeros = multiple_of_pow5(mv, q);
            else if (accept_bounds)
                vm_trailing_zeros = multiple_of_pow5(mv - 1 - mm_shift, q);
            else
                vp -= multiple_of_pow5(mv + 2, q);
        }
    } else {
        int q = log10_pow5(-e2) - (-e2 > 1);
        e10 = q + e2;
        int i = -e2 - q;
        int k = pow5bits(i) - POW5_BITS;
        int j = q - k;
        vr = mul_shift(mv, pow5[i], j);
        vp = mul_shift(mv + 2, pow5[i], j);
        vm = mul_shift(mv - 1 - mm_shift, pow5[i], j);
        if (q <= 1) {
            /* mv has two trailing zero bits: vr is exact. */
            vr_trailing_zeros = true;
            if (accept_bounds)
                vm_trailing_zeros = mm_shift == 1;
            else
                vp--;
        } else if (q < 63) {
            vr_trailing_zeros = multiple_of_pow2(mv, q);
        }
    }

    int removed = 0;
    uint8_t last_removed = 0;
    uint64_t out;
    if (vm_trailing_zeros || vr_trailing_zeros) {
        /* Exact cases: keep track of whether all dropped digits were 0. */
        while (vp / 10 > vm / 10) {
            vm_trailing_zeros &= vm % 10 == 0;
            vr_trailing_zeros &= last_removed == 0;
            last_removed = (uint8_t)(vr % 10);
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        if (vm_trailing_zeros) {
            while (vm % 10 == 0) {
                vr_trailing_zeros &= last_removed == 0;
                last_removed = (uint8_t)(vr % 10);
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }
        }
        if (vr_trailing_zeros && last_removed == 5 && vr % 2 == 0)
            last_removed = 4; /* exactly halfway: round to even */
        out = vr + ((vr == vm && (!accept_bounds || !vm_trailing_zeros)) || last_removed >= 5);
    } else {
        /* Common case: no exactness to track, so only the most significant
         * dropped digit decides the rounding and digits can go in blocks. */
        bool round_up = false;
        while (vp / 10000 > vm / 10000) {
            round_up = vr % 10000 >= 5000;
            vr /= 10000;
            vp /= 10000;
            vm /= 10000;
            removed += 4;
        }
        if (vp / 100 > vm / 100) {
            round_up = vr % 100 >= 50;
            vr /= 100;
            vp /= 100;
            vm /= 100;
            removed += 2;
        }
        while (vp / 10 > vm / 10) {
            round_up = vr % 10 >= 5;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        out = vr + (vr == vm || round_up);
    }
    *digits = out;
    *exp = e10 + removed;
}

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Lays out digits*10^exp like printf %.17g with trailing zeros removed:
 * plain notation for decimal exponents -4..16, d.ddde+XX otherwise. */
static size_t layout(char *buf, bool negative, uint64_t digits, int exp)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *d = end;
    while (digits >= 100) {
        unsigned r = (unsigned)(digits % 100);
        digits /= 100;
        d -= 2;
        memcpy(d, digit_pairs + 2 * r, 2);
    }
    if (digits >= 10) {
        d -= 2;
        memcpy(d, digit_pairs + 2 * digits, 2);
    } else {
        *--d = (char)('0' + digits);
    }
    int n = (int)(end - d);
    int x = exp + n - 1; /* exponent of the first digit */
    char *p = buf;
    if (negative)
        *p++ = '-';
    if (x < -4 || x >= 17) {
        *p++ = d[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        }
        *p++ = 'e';
        if (x < 0) {
            *p++ = '-';
            x = -x;
        } else {
            *p++ = '+';
        }
        if (x >= 100) {
            *p++ = (char)('0' + x / 100);
            x %= 100;
        }
        memcpy(p, digit_pairs + 2 * x, 2);
        p += 2;
    } else if (x < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > x; i--)
            *p++ = '0';
        memcpy(p, d, (size_t)n);
        p += n;
    } else if (x >= n - 1) {
        memcpy(p, d, (size_t)n);
        p += n;
        for (int i = n - 1; i < x; i++)
            *p++ = '0';
    } else {
        memcpy(p, d, (size_t)x + 1);
        p += x + 1;
        *p++ = '.';
        memcpy(p, d + x + 1, (size_t)(n - x - 1));
        p += n - x - 1;
    }
    *p = '\0';
    return (size_t)(p - buf);
}

static size_t format_special(char *buf, bool negative, bool is_nan)
{
    const char *s = is_nan ? "nan" : negative ? "-inf" : "inf";
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return n;
}

size_t fmi_format_double(char *buf, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bool negative = bits >> 63;
    uint64_t ieee_m = bits & ((UINT64_C(1) << 52) - 1);
    uint32_t ieee_e = (uint32_t)(bits >> 52) & 0x7ff;
    if (ieee_e == 0x7ff)
        return format_special(buf, negative, ieee_m != 0);
    if (ieee_e == 0 && ieee_m == 0) {
        char *p = buf;
        if (negative)
            *p++ = '-';
        *p++ = '0';
        *p = '\0';
        return (size_t)(p - buf);
    }
    /* Small integers are their own shortest form. */
    if (v >= -9007199254740992.0 && v <= 9007199254740992.0) {
        int64_t i = (int64_t)v;
        if ((double)i == v) {
            uint64_t u = negative ? (uint64_t)-i : (uint64_t)i;
            return layout(buf, negative, u, 0);
        }
    }
    need_tables();
    uint64_t digits;
    int exp;
    shortest(ieee_m, ieee_e, 52, 1023, &digits, &exp);
    return layout(buf, negative, digits, exp);
}

/* The shortest text that reads back (with strtof) as exactly `v`. */
static size_t format_float(char *buf, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bool negative = bits >> 31;
    uint64_t ieee_m = bits & ((UINT32_C(1) << 23) - 1);
    uint32_t ieee_e = (bits >> 23) & 0xff;
    if (ieee_e == 0xff)
        return format_special(buf, negative, ieee_m != 0);
    if (ieee_e == 0 && ieee_m == 0) {
        char *p = buf;
        if (negative)
            *p++ = '-';
        *p++ = '0';
        *p = '\0';
        return (size_t)(p - buf);
    }
    need_tables();
    uint64_t digits;
    int exp;
    shortest(ieee_m, ieee_e, 23, 127, &digits, &exp);
    return layout(buf, negative, digits, exp);
}

static size_t format_u64(char *buf, uint64_t u)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *d = end;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t n = (size_t)(end - d);
    memcpy(buf, d, n);
    return n;
}

static size_t format_i64(char *buf, int64_t i)
{
    if (i < 0) {
        buf[0] = '-';
        return 1 + format_u64(buf + 1, (uint64_t)0 - (uint64_t)i);
    }
    return format_u64(buf, (uint64_t)i);
}

/* ---------------------------------------------------------------------- */
/* Recorder                                                                */
/* ---------------------------------------------------------------------- */

#define OUT_BUF_SIZE ((size_t)1 << 20)
#define MAX_NUMBER_LEN 40 /* longest formatted number plus separator, rounded up */

typedef enum { K_F64, K_F32, K_INT, K_U64, K_BOOL, K_STR, K_BIN, K_COUNT } kind;

/* One get call per type and sample. */
typedef struct {
    fmi_type type;
    kind k;
    uint32_t *vrs;
    size_t n_vrs;
    size_t offset; /* first value in the kind's value array */
} get_call;

typedef struct {
    kind k;
    size_t index; /* into the kind's value array */
} column;

struct fmi_recorder {
    fmi_result_format format;
    FILE *f;
    char *buf;
    size_t len;
    bool failed;   /* a write failed */
    bool finished; /* trailer written */
    size_t rows;

    get_call *calls;
    size_t n_calls;
    column *cols;
    size_t n_cols;

    size_t n_values[K_COUNT];
    double *f64;
    float *f32;
    int64_t *i64;
    uint64_t *u64;
    bool *b;
    const char **str;
    const uint8_t **bin;
    size_t *bin_sizes;
};

static kind kind_of(fmi_type t)
{
    switch (t) {
    case FMI_FLOAT64:
        return K_F64;
    case FMI_FLOAT32:
        return K_F32;
    case FMI_UINT64:
        return K_U64;
    case FMI_BOOLEAN:
        return K_BOOL;
    case FMI_STRING:
        return K_STR;
    case FMI_BINARY:
        return K_BIN;
    case FMI_CLOCK:
        return K_COUNT;
    default:
        return K_INT;
    }
}

static void flush_buf(fmi_recorder *rec)
{
    if (rec->len > 0 && !rec->failed && fwrite(rec->buf, 1, rec->len, rec->f) != rec->len)
        rec->failed = true;
    rec->len = 0;
}

/* Makes room for n more bytes (n <= OUT_BUF_SIZE). */
static inline void reserve(fmi_recorder *rec, size_t n)
{
    if (rec->len + n > OUT_BUF_SIZE)
        flush_buf(rec);
}

static void put(fmi_recorder *rec, const char *s, size_t n)
{
    if (n > OUT_BUF_SIZE) {
        flush_buf(rec);
        if (!rec->failed && fwrite(s, 1, n, rec->f) != n)
            rec->failed = true;
        return;
    }
    reserve(rec, n);
    memcpy(rec->buf + rec->len, s, n);
    rec->len += n;
}

static inline void put_char(fmi_recorder *rec, char c)
{
    reserve(rec, 1);
    rec->buf[rec->len++] = c;
}

/* A CSV field in double quotes, embedded quotes doubled. */
static void put_csv_string(fmi_recorder *rec, const char *s)
{
    put_char(rec, '"');
    const char *run = s;
    for (; *s; s++) {
        if (*s == '"') {
            put(rec, run, (size_t)(s - run + 1));
            run = s; /* the quote is written again: doubled */
        }
    }
    put(rec, run, (size_t)(s - run));
    put_char(rec, '"');
}

/* A JSON string with the escapes RFC 8259 requires. */
static void put_json_string(fmi_recorder *rec, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put_char(rec, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(rec, run, (size_t)(s - run));
        run = s + 1;
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        put(rec, esc, n);
    }
    put(rec, run, (size_t)(s - run));
    put_char(rec, '"');
}

static void put_name(fmi_recorder *rec, const char *name)
{
    if (rec->format == FMI_RESULT_CSV)
        put_csv_string(rec, name);
    else
        put_json_string(rec, name);
}

static void put_hex(fmi_recorder *rec, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put_char(rec, '"');
    for (size_t i = 0; i < n; i++) {
        reserve(rec, 2);
        rec->buf[rec->len++] = hex[p[i] >> 4];
        rec->buf[rec->len++] = hex[p[i] & 15];
    }
    put_char(rec, '"');
}

/* Element names of an array variable: "x[1]", "x[2]", ... for one
 * dimension, "x[1,1]", "x[1,2]", ... (row-major) for several. `dims` are the
 * dimension sizes, or NULL to number the elements flat. */
static int put_array_names(fmi_recorder *rec, const char *name, const size_t *dims, size_t n_dims, size_t size)
{
    size_t idx[16] = { 0 };
    char *label = NULL;
    size_t cap = strlen(name) + 16 * 21 + 4;
    label = malloc(cap);
    if (!label)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (size_t e = 0; e < size; e++) {
        int n = snprintf(label, cap, "%s[", name);
        if (!dims) {
            n += snprintf(label + n, cap - (size_t)n, "%zu", e + 1);
        } else {
            for (size_t d = 0; d < n_dims; d++)
                n += snprintf(label + n, cap - (size_t)n, d ? ",%zu" : "%zu", idx[d] + 1);
            for (size_t d = n_dims; d-- > 0;) {
                if (++idx[d] < dims[d])
                    break;
                idx[d] = 0;
            }
        }
        snprintf(label + n, cap - (size_t)n, "]");
        put_char(rec, ',');
        put_name(rec, label);
    }
    free(label);
    return 0;
}

/* Sizes of each dimension of `v`, if all can be resolved and n_dims <= 16. */
static bool array_dims(const fmi_model *model, const fmi_variable *v, size_t *dims, size_t size)
{
    if (v->n_dims > 16)
        return false;
    size_t product = 1;
    for (size_t d = 0; d < v->n_dims; d++) {
        const fmi_dimension *dim = &v->dims[d];
        if (dim->has_start) {
            dims[d] = (size_t)dim->start;
        } else if (dim->has_vr) {
            int sp = fmi_model_find_vr(model, FMI_UINT64, dim->vr);
            if (sp < 0 || !model->variables[sp].start)
                return false;
            dims[d] = (size_t)strtoull(model->variables[sp].start, NULL, 10);
        } else {
            return false;
        }
        product *= dims[d];
    }
    return product == size;
}

static int add_call(fmi_recorder *rec, size_t *cap, fmi_type type, kind k, size_t offset)
{
    if (rec->n_calls == *cap) {
        size_t ncap = *cap ? 2 * *cap : 8;
        get_call *p = realloc(rec->calls, ncap * sizeof *p);
        if (!p)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        rec->calls = p;
        *cap = ncap;
    }
    get_call *c = &rec->calls[rec->n_calls++];
    memset(c, 0, sizeof *c);
    c->type = type;
    c->k = k;
    c->offset = offset;
    return 0;
}

static int add_vr(get_call *c, uint32_t vr, size_t max)
{
    if (!c->vrs) {
        c->vrs = malloc(max * sizeof *c->vrs);
        if (!c->vrs)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    c->vrs[c->n_vrs++] = vr;
    return 0;
}

static int alloc_values(fmi_recorder *rec)
{
    size_t *n = rec->n_values;
    rec->f64 = calloc(n[K_F64] + 1, sizeof *rec->f64);
    rec->f32 = calloc(n[K_F32] + 1, sizeof *rec->f32);
    rec->i64 = calloc(n[K_INT] + 1, sizeof *rec->i64);
    rec->u64 = calloc(n[K_U64] + 1, sizeof *rec->u64);
    rec->b = calloc(n[K_BOOL] + 1, sizeof *rec->b);
    rec->str = calloc(n[K_STR] + 1, sizeof *rec->str);
    rec->bin = calloc(n[K_BIN] + 1, sizeof *rec->bin);
    rec->bin_sizes = calloc(n[K_BIN] + 1, sizeof *rec->bin_sizes);
    if (!rec->f64 || !rec->f32 || !rec->i64 || !rec->u64 || !rec->b || !rec->str || !rec->bin || !rec->bin_sizes)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    return 0;
}

int fmi_recorder_new(fmi_recorder **out, const fmi_model *model, const int *vars, size_t n_vars,
                     fmi_result_format format, FILE *f)
{
    int rc = 0;
    size_t calls_cap = 0;
    long type_call[FMI_ENUMERATION + 1]; /* the get call of each type, or -1 */
    size_t call_values[FMI_ENUMERATION + 1] = { 0 };
    for (size_t t = 0; t <= FMI_ENUMERATION; t++)
        type_call[t] = -1;

    *out = NULL;
    fmi_recorder *rec = calloc(1, sizeof *rec);
    if (!rec)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    rec->format = format;
    rec->f = f;
    rec->buf = malloc(OUT_BUF_SIZE);
    if (!rec->buf) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }

    /* First pass: validate and build one get call per type (the instance
     * counts the elements of arrays among the value references). */
    for (size_t i = 0; i < n_vars; i++) {
        if (vars[i] < 0 || (size_t)vars[i] >= model->n_variables) {
            rc = fmugw_error_set(FMUGW_EINVALID, "recorded variable index %d out of range", vars[i]);
            goto out;
        }
        const fmi_variable *v = &model->variables[vars[i]];
        kind k = kind_of(v->type);
        if (k == K_COUNT) {
            rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "variable \"%s\": clocks cannot be recorded", v->name);
            goto out;
        }
        size_t size = v->n_dims > 0 ? fmi_variable_size(model, v) : 1;
        if (type_call[v->type] < 0) {
            type_call[v->type] = (long)rec->n_calls;
            if ((rc = add_call(rec, &calls_cap, v->type, k, 0)) < 0)
                goto out;
        }
        if ((rc = add_vr(&rec->calls[type_call[v->type]], v->vr, n_vars)) < 0)
            goto out;
        call_values[v->type] += size;
        rec->n_cols += size;
    }
    for (size_t c = 0; c < rec->n_calls; c++) {
        get_call *call = &rec->calls[c];
        call->offset = rec->n_values[call->k];
        rec->n_values[call->k] += call_values[call->type];
    }
    if ((rc = alloc_values(rec)) < 0)
        goto out;
    rec->cols = calloc(rec->n_cols + 1, sizeof *rec->cols);
    if (!rec->cols) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }

    /* Second pass: map columns to values and write the header. */
    {
        size_t col = 0, pos[FMI_ENUMERATION + 1] = { 0 };
        if (format == FMI_RESULT_JSON)
            put(rec, "{\"columns\":[", 12);
        put_name(rec, "time");
        for (size_t i = 0; i < n_vars; i++) {
            const fmi_variable *v = &model->variables[vars[i]];
            const get_call *call = &rec->calls[type_call[v->type]];
            size_t size = v->n_dims > 0 ? fmi_variable_size(model, v) : 1;
            for (size_t e = 0; e < size; e++) {
                rec->cols[col].k = call->k;
                rec->cols[col++].index = call->offset + pos[v->type]++;
            }
            if (v->n_dims > 0) {
                size_t dims[16];
                bool multi = v->n_dims > 1 && array_dims(model, v, dims, size);
                if ((rc = put_array_names(rec, v->name, multi ? dims : NULL, v->n_dims, size)) < 0)
                    goto out;
            } else {
                put_char(rec, ',');
                put_name(rec, v->name);
            }
        }
        if (format == FMI_RESULT_JSON)
            put(rec, "],\"rows\":[", 10);
        else
            put_char(rec, '\n');
    }

out:
    if (rc < 0) {
        fmi_recorder_free(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

static int read_values(fmi_recorder *rec, fmi_instance *inst)
{
    int rc = 0;
    for (size_t i = 0; i < rec->n_calls && rc == 0; i++) {
        const get_call *c = &rec->calls[i];
        switch (c->k) {
        case K_F64:
            rc = fmi_instance_get_float64(inst, c->vrs, c->n_vrs, rec->f64 + c->offset);
            break;
        case K_F32:
            rc = fmi_instance_get_float32(inst, c->vrs, c->n_vrs, rec->f32 + c->offset);
            break;
        case K_INT:
            rc = fmi_instance_get_int(inst, c->type, c->vrs, c->n_vrs, rec->i64 + c->offset);
            break;
        case K_U64:
            rc = fmi_instance_get_uint64(inst, c->vrs, c->n_vrs, rec->u64 + c->offset);
            break;
        case K_BOOL:
            rc = fmi_instance_get_boolean(inst, c->vrs, c->n_vrs, rec->b + c->offset);
            break;
        case K_STR:
            rc = fmi_instance_get_string(inst, c->vrs, c->n_vrs, rec->str + c->offset);
            break;
        case K_BIN:
            rc = fmi_instance_get_binary(inst, c->vrs, c->n_vrs, rec->bin_sizes + c->offset, rec->bin + c->offset);
            break;
        case K_COUNT:
            break;
        }
    }
    return rc;
}

int fmi_recorder_sample(fmi_recorder *rec, fmi_instance *inst, double t)
{
    if (rec->finished)
        return fmugw_error_set(FMUGW_ERROR, "recorder: sample after finish");
    int rc = read_values(rec, inst);
    if (rc < 0)
        return rc;

    bool json = rec->format == FMI_RESULT_JSON;
    if (json) {
        reserve(rec, 3);
        if (rec->rows > 0)
            rec->buf[rec->len++] = ',';
        rec->buf[rec->len++] = '\n';
        rec->buf[rec->len++] = '[';
    }
    reserve(rec, MAX_NUMBER_LEN);
    if (json && !isfinite(t)) {
        memcpy(rec->buf + rec->len, "null", 4);
        rec->len += 4;
    } else {
        rec->len += fmi_format_double(rec->buf + rec->len, t);
    }
    for (size_t i = 0; i < rec->n_cols; i++) {
        const column *c = &rec->cols[i];
        reserve(rec, MAX_NUMBER_LEN);
        char *p = rec->buf + rec->len;
        *p++ = ',';
        switch (c->k) {
        case K_F64: {
            double v = rec->f64[c->index];
            if (json && !isfinite(v)) {
                memcpy(p, "null", 4);
                p += 4;
            } else {
                p += fmi_format_double(p, v);
            }
            break;
        }
        case K_F32: {
            float v = rec->f32[c->index];
            if (json && !isfinite(v)) {
                memcpy(p, "null", 4);
                p += 4;
            } else {
                p += format_float(p, v);
            }
            break;
        }
        case K_INT:
            p += format_i64(p, rec->i64[c->index]);
            break;
        case K_U64:
            p += format_u64(p, rec->u64[c->index]);
            break;
        case K_BOOL:
            *p++ = rec->b[c->index] ? '1' : '0';
            break;
        case K_STR:
        case K_BIN:
        case K_COUNT:
            break;
        }
        rec->len = (size_t)(p - rec->buf);
        if (c->k == K_STR) {
            const char *s = rec->str[c->index] ? rec->str[c->index] : "";
            if (json)
                put_json_string(rec, s);
            else
                put_csv_string(rec, s);
        } else if (c->k == K_BIN) {
            put_hex(rec, rec->bin[c->index], rec->bin[c->index] ? rec->bin_sizes[c->index] : 0);
        }
    }
    if (json)
        put_char(rec, ']');
    else
        put_char(rec, '\n');
    rec->rows++;
    if (rec->failed)
        return fmugw_error_set(FMUGW_EIO, "cannot write results: write failed");
    return 0;
}

size_t fmi_recorder_rows(const fmi_recorder *rec)
{
    return rec->rows;
}

int fmi_recorder_finish(fmi_recorder *rec)
{
    if (!rec->finished) {
        rec->finished = true;
        if (rec->format == FMI_RESULT_JSON)
            put(rec, "\n]}\n", 4);
        flush_buf(rec);
        if (fflush(rec->f) != 0 || ferror(rec->f))
            rec->failed = true;
    }
    if (rec->failed)
        return fmugw_error_set(FMUGW_EIO, "cannot write results: write failed");
    return 0;
}

void fmi_recorder_free(fmi_recorder *rec)
{
    if (!rec)
        return;
    for (size_t i = 0; i < rec->n_calls; i++)
        free(rec->calls[i].vrs);
    free(rec->calls);
    free(rec->cols);
    free(rec->f64);
    free(rec->f32);
    free(rec->i64);
    free(rec->u64);
    free(rec->b);
    free(rec->str);
    free(rec->bin);
    free(rec->bin_sizes);
    free(rec->buf);
    free(rec);
}
