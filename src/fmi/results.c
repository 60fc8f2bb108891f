/*
 * results.c - the result recorder (CSV / JSON streamed through a private
 * buffer, formatted on a writer thread when every column is numeric; see
 * "Recorder" below) and fmi_format_double(), the shortest round-trip float
 * printer.
 *
 * Float printing follows the method of Ulf Adams' paper "Ryu: fast
 * float-to-string conversion" (PLDI 2018): the bounds of the interval that
 * rounds to the value are scaled by a power of ten with 128-bit fixed-point
 * multipliers, and decimal digits are dropped while the interval still
 * holds a shorter number. The multiplier tables (5^i and 2^k/5^q, 125 bits
 * each) are constants computed at build time by results_tables_gen.c
 * (a small bignum), so no process builds them. The same core prints
 * float32 values with float32 bounds. What does not live here: reading values (instance.c) and the
 * simulation loop (sim.c).
 */
#include "results.h"

#include "util/error.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
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

/* pow5_inv[POW5_INV_N][2]: floor(2^(pow5bits(q)-1+125) / 5^q) + 1, lo/hi;
 * pow5[POW5_N][2]: top 125 bits of 5^i, lo/hi. Constants, generated at
 * build time by results_tables_gen.c. */
#include "fmi_results_tables.h"
_Static_assert(sizeof pow5_inv / sizeof pow5_inv[0] == POW5_INV_N, "pow5_inv size");
_Static_assert(sizeof pow5 / sizeof pow5[0] == POW5_N, "pow5 size");

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

static const uint64_t pow10_table[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

/* Number of decimal digits of v (1 for 0). */
static inline int decimal_len(uint64_t v)
{
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12; /* about log10(2^bits) */
    int n = t - (v < pow10_table[t]) + 1;
    return n + (v == 0);
}

/* Writes the 8 digits of v < 10^8 (with leading zeros) to p: two
 * independent halves, two digits per step, 32-bit arithmetic only. */
static inline void write_8_digits(char *p, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(p, digit_pairs + 2 * (hi / 100), 2);
    memcpy(p + 2, digit_pairs + 2 * (hi % 100), 2);
    memcpy(p + 4, digit_pairs + 2 * (lo / 100), 2);
    memcpy(p + 6, digit_pairs + 2 * (lo % 100), 2);
}

/* Writes v as exactly n digits (n >= decimal_len(v)) ending at p + n. */
static inline void write_digits(char *p, uint64_t v, int n)
{
    char *end = p + n;
    while (v >= 100000000) {
        end -= 8;
        write_8_digits(end, (uint32_t)(v % 100000000));
        v /= 100000000;
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        end -= 2;
        memcpy(end, digit_pairs + 2 * (w % 100), 2);
        w /= 100;
    }
    if (w >= 10) {
        end -= 2;
        memcpy(end, digit_pairs + 2 * w, 2);
    } else {
        *--end = (char)('0' + w);
    }
    while (end > p) /* leading zeros (only if n > decimal_len(v)) */
        *--end = '0';
}

/* The 8 decimal digits of v < 10^8 (leading zeros kept) as 8 ASCII bytes in
 * memory order, computed in parallel lanes of one 64-bit word: 4 + 4
 * digits, then 2 + 2 + 2 + 2, then 1 each (the multipliers divide exactly
 * by 100 for lanes < 10^4 and by 10 for lanes < 100). */
static inline uint64_t ascii_8_digits(uint32_t v)
{
    uint64_t lanes = (uint64_t)(v / 10000) | ((uint64_t)(v % 10000) << 32);
    uint64_t q = ((lanes * 10486) >> 20) & ((UINT64_C(0x7f) << 32) | 0x7f);
    lanes = q | ((lanes - 100 * q) << 16);
    q = ((lanes * 103) >> 10) & UINT64_C(0x000f000f000f000f);
    lanes = q | ((lanes - 10 * q) << 8);
    return lanes + UINT64_C(0x3030303030303030);
}

/* Lays out digits*10^exp (digits < 10^17) like printf %.17g with trailing
 * zeros removed: plain notation for decimal exponents -4..16, d.ddde+XX
 * otherwise. The digits are made in a 48-byte scratch (right-aligned in
 * its first 24 bytes) and copied in fixed-size blocks; every copy may run
 * past the text, but never past buf + 32 (see the bounds at each copy). */
static size_t layout(char *buf, bool negative, uint64_t digits, int exp)
{
    char tmp[48];
    uint64_t hi = digits / 100000000, w[3];
    w[0] = ascii_8_digits((uint32_t)(hi / 100000000));
    w[1] = ascii_8_digits((uint32_t)(hi % 100000000));
    w[2] = ascii_8_digits((uint32_t)(digits % 100000000));
    memcpy(tmp, w, 24);
    memset(tmp + 24, '0', 24);
    int n = decimal_len(digits); /* <= 17 */
    const char *d = tmp + 24 - n;

    char *p = buf;
    *p = '-';
    p += negative; /* p <= buf + 1 */
    int x = exp + n - 1; /* exponent of the first digit */
    if (x < -4 || x >= 17) {
        p[0] = d[0];
        p[1] = '.';
        memcpy(p + 2, d + 1, 16); /* to <= buf + 19 */
        p += n > 1 ? n + 1 : 1;
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
        /* 0.000ddd: at most 4 zeros */
        memcpy(p, "0.0000", 6);
        p += 1 - x;           /* <= buf + 6 */
        memcpy(p, d, 24);     /* to <= buf + 30 */
        p += n;
    } else if (x >= n - 1) {
        /* integer: the digits, then x - n + 1 zeros */
        memcpy(p, d, 24); /* to <= buf + 25 */
        p += n;
        if (x >= n) {
            memset(p, '0', (size_t)(x - n + 1));
            p += x - n + 1;
        }
    } else {
        /* d.ddd: the integer part in place, then the fraction one further */
        int frac = n - x - 1;
        memcpy(p, d, 24); /* to <= buf + 25 */
        if (frac <= 8)
            memcpy(p + x + 2, d + x + 1, 8); /* x <= 15: to <= buf + 26 */
        else
            memcpy(p + x + 2, d + x + 1, 16); /* frac > 8 so x <= 7: to <= buf + 26 */
        p[x + 1] = '.';
        p += n + 1;
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
    uint64_t digits;
    int exp;
    shortest(ieee_m, ieee_e, 23, 127, &digits, &exp);
    return layout(buf, negative, digits, exp);
}

static inline size_t format_u64(char *buf, uint64_t u)
{
    int n = decimal_len(u);
    write_digits(buf, u, n);
    return (size_t)n;
}

static inline size_t format_i64(char *buf, int64_t i)
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
/*
 * Each sample becomes a row of 8-byte slots: the time, then one slot per
 * column (a double, an int64, a uint64, a float's bits or 0/1). One
 * function, format_row(), turns a row into text, so both ways of running
 * give the same bytes:
 *
 * - synchronous: fmi_recorder_sample() reads the values, builds the row
 *   and formats it into the private buffer at once. Used when a column is
 *   a string or a binary (their pointers are only valid until the next
 *   call into the FMU), when FMUGW_RECORDER_SYNC=1 is set at creation, or
 *   when the thread cannot be started.
 * - writer thread: fmi_recorder_sample() only reads the values (the FMU is
 *   called on the caller's thread) into the current chunk of rows; full
 *   chunks go through a ring of QUEUE_CHUNKS buffers to a thread that
 *   formats and writes them. The ring bounds memory: the sampler waits
 *   when every buffer is full. While the thread runs it alone touches the
 *   text buffer, `failed` and the FILE; the ring indices are under `mu`.
 */

#define OUT_BUF_SIZE ((size_t)1 << 20)
#define MAX_NUMBER_LEN 40 /* longest formatted number plus separator, rounded up */
#define CHUNK_SLOTS 8192  /* 64 KiB of slots per chunk (at least one row) */
#define QUEUE_CHUNKS 4

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

typedef struct {
    uint64_t *slots; /* rows_per_chunk rows of row_slots slots */
    size_t rows;     /* set when handed over */
} chunk;

struct fmi_recorder {
    /* Configuration: read-only once the recorder is made. */
    fmi_result_format format;
    FILE *f;
    get_call *calls;
    size_t n_calls;
    column *cols;
    size_t n_cols;
    size_t row_slots;      /* 1 + n_cols */
    size_t row_bound;      /* most bytes a numeric row can take */
    size_t rows_per_chunk;
    bool numeric;          /* no string or binary column */
    bool direct;           /* one get call of 8-byte values in column order: read straight into the row */
    bool row_reserve;      /* numeric and row_bound fits the buffer: one reserve() per row */
    size_t n_values[K_COUNT];

    /* Sampler (the caller's thread). The padding keeps the fields each
     * thread writes on every row off each other's cache lines. */
    char pad0[64];
    size_t rows;      /* rows sampled */
    bool finished;    /* trailer written */
    bool threaded;    /* the writer thread is running */
    bool seen_failed; /* the sampler learnt of a write error from the writer */
    unsigned prod;    /* chunk being filled */
    size_t fill;      /* rows in it */
    uint64_t *row;    /* synchronous path: the row being formatted */
    double *f64;      /* values as the get calls return them */
    float *f32;
    int64_t *i64;
    uint64_t *u64;
    bool *b;
    const char **str;
    const uint8_t **bin;
    size_t *bin_sizes;

    /* Text output: owned by the writer thread while it runs. */
    char pad1[64];
    char *buf;
    size_t len;
    bool failed;         /* a write failed */
    size_t rows_written; /* rows formatted (JSON puts a comma before all but the first) */

    /* The ring of chunks; counters under mu. */
    char pad2[64];
    bool sync_ready; /* mu and the condition variables are initialized */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_full; /* the writer waits for a chunk or the end */
    pthread_cond_t cv_free; /* the sampler waits for a free chunk */
    chunk chunks[QUEUE_CHUNKS];
    unsigned cons;     /* next chunk the writer formats */
    unsigned n_full;   /* chunks handed over and not yet released */
    bool done;         /* no more chunks will come */
    bool discard;      /* stop without writing (free without finish) */
    bool async_failed; /* the writer saw a write error */
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

/* --- one row: values -> slots -> text ----------------------------------- */

static inline uint64_t f64_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Slots are read with memcpy: a get call may have stored them as double
 * or int64_t. */
static inline uint64_t load_slot(const uint64_t *p)
{
    uint64_t u;
    memcpy(&u, p, sizeof u);
    return u;
}

static inline double bits_f64(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Calls the FMU for every recorded value; with `direct`, the single get
 * call writes straight into row + 1. */
static int read_values(fmi_recorder *rec, fmi_instance *inst, uint64_t *row)
{
    int rc = 0;
    for (size_t i = 0; i < rec->n_calls && rc == 0; i++) {
        const get_call *c = &rec->calls[i];
        switch (c->k) {
        case K_F64:
            rc = fmi_instance_get_float64(inst, c->vrs, c->n_vrs, rec->direct ? (double *)(row + 1) : rec->f64 + c->offset);
            break;
        case K_F32:
            rc = fmi_instance_get_float32(inst, c->vrs, c->n_vrs, rec->f32 + c->offset);
            break;
        case K_INT:
            rc = fmi_instance_get_int(inst, c->type, c->vrs, c->n_vrs,
                                      rec->direct ? (int64_t *)(row + 1) : rec->i64 + c->offset);
            break;
        case K_U64:
            rc = fmi_instance_get_uint64(inst, c->vrs, c->n_vrs, rec->direct ? row + 1 : rec->u64 + c->offset);
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

/* Reads one sample into `row` (time first). Strings and binaries stay in
 * rec->str / rec->bin: their slots are unused. */
static int read_row(fmi_recorder *rec, fmi_instance *inst, double t, uint64_t *row)
{
    int rc = read_values(rec, inst, row);
    if (rc < 0)
        return rc;
    row[0] = f64_bits(t);
    if (rec->direct)
        return 0;
    uint64_t *slot = row + 1;
    for (size_t i = 0; i < rec->n_cols; i++) {
        const column *c = &rec->cols[i];
        switch (c->k) {
        case K_F64:
            slot[i] = f64_bits(rec->f64[c->index]);
            break;
        case K_F32: {
            uint32_t u;
            memcpy(&u, &rec->f32[c->index], sizeof u);
            slot[i] = u;
            break;
        }
        case K_INT:
            slot[i] = (uint64_t)rec->i64[c->index];
            break;
        case K_U64:
            slot[i] = rec->u64[c->index];
            break;
        case K_BOOL:
            slot[i] = rec->b[c->index];
            break;
        case K_STR:
        case K_BIN:
        case K_COUNT:
            slot[i] = 0;
            break;
        }
    }
    return 0;
}

/* A float64 slot: "null" for non-finite values in JSON. */
static inline char *put_f64(char *p, uint64_t bits, bool json)
{
    if (json && ((bits >> 52) & 0x7ff) == 0x7ff) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    return p + fmi_format_double(p, bits_f64(bits));
}

/* Appends the text of one row to the buffer. In the writer thread only
 * numeric rows come here; string and binary columns are read from
 * rec->str / rec->bin, which the synchronous path has just filled. */
static void format_row(fmi_recorder *rec, const uint64_t *row)
{
    bool json = rec->format == FMI_RESULT_JSON;
    reserve(rec, rec->row_reserve ? rec->row_bound : MAX_NUMBER_LEN);
    char *p = rec->buf + rec->len;
    if (json) {
        *p = ',';
        p += rec->rows_written > 0;
        *p++ = '\n';
        *p++ = '[';
    }
    p = put_f64(p, load_slot(row), json);
    const uint64_t *slot = row + 1;
    for (size_t i = 0; i < rec->n_cols; i++) {
        const column *c = &rec->cols[i];
        if (!rec->row_reserve) {
            rec->len = (size_t)(p - rec->buf);
            reserve(rec, MAX_NUMBER_LEN);
            p = rec->buf + rec->len;
        }
        uint64_t v = load_slot(slot + i);
        *p++ = ',';
        switch (c->k) {
        case K_F64:
            p = put_f64(p, v, json);
            break;
        case K_F32: {
            float x;
            uint32_t u = (uint32_t)v;
            memcpy(&x, &u, sizeof x);
            if (json && !isfinite(x)) {
                memcpy(p, "null", 4);
                p += 4;
            } else {
                p += format_float(p, x);
            }
            break;
        }
        case K_INT:
            p += format_i64(p, (int64_t)v);
            break;
        case K_U64:
            p += format_u64(p, v);
            break;
        case K_BOOL:
            *p++ = (char)('0' + (v != 0));
            break;
        case K_STR: {
            rec->len = (size_t)(p - rec->buf);
            const char *s = rec->str[c->index] ? rec->str[c->index] : "";
            if (json)
                put_json_string(rec, s);
            else
                put_csv_string(rec, s);
            p = rec->buf + rec->len;
            break;
        }
        case K_BIN:
            rec->len = (size_t)(p - rec->buf);
            put_hex(rec, rec->bin[c->index], rec->bin[c->index] ? rec->bin_sizes[c->index] : 0);
            p = rec->buf + rec->len;
            break;
        case K_COUNT:
            break;
        }
    }
    rec->len = (size_t)(p - rec->buf);
    put_char(rec, json ? ']' : '\n');
    rec->rows_written++;
}

/* --- writer thread ------------------------------------------------------ */

static void *writer_main(void *arg)
{
    fmi_recorder *rec = arg;
    pthread_mutex_lock(&rec->mu);
    for (;;) {
        while (rec->n_full == 0 && !rec->done)
            pthread_cond_wait(&rec->cv_full, &rec->mu);
        if (rec->n_full == 0 || rec->discard)
            break;
        const uint64_t *row = rec->chunks[rec->cons].slots;
        size_t rows = rec->chunks[rec->cons].rows;
        bool skip = rec->async_failed;
        pthread_mutex_unlock(&rec->mu);

        if (!skip) {
            for (size_t r = 0; r < rows; r++, row += rec->row_slots)
                format_row(rec, row);
        }

        pthread_mutex_lock(&rec->mu);
        if (rec->failed)
            rec->async_failed = true;
        rec->cons = (rec->cons + 1) % QUEUE_CHUNKS;
        rec->n_full--;
        pthread_cond_signal(&rec->cv_free);
    }
    pthread_mutex_unlock(&rec->mu);
    return NULL;
}

/* Hands the current chunk to the writer and waits for a free one. */
static void hand_over(fmi_recorder *rec)
{
    pthread_mutex_lock(&rec->mu);
    rec->chunks[rec->prod].rows = rec->fill;
    rec->n_full++;
    pthread_cond_signal(&rec->cv_full);
    rec->prod = (rec->prod + 1) % QUEUE_CHUNKS;
    while (rec->n_full == QUEUE_CHUNKS)
        pthread_cond_wait(&rec->cv_free, &rec->mu);
    rec->seen_failed |= rec->async_failed;
    pthread_mutex_unlock(&rec->mu);
    rec->fill = 0;
}

/* Ends the writer thread: with `discard`, drops what is queued; otherwise
 * hands over the partial chunk and lets the thread write everything. */
static void stop_writer(fmi_recorder *rec, bool discard)
{
    if (!rec->threaded)
        return;
    pthread_mutex_lock(&rec->mu);
    if (!discard && rec->fill > 0) {
        rec->chunks[rec->prod].rows = rec->fill;
        rec->n_full++; /* the sampler owns prod, so n_full < QUEUE_CHUNKS here */
    }
    rec->done = true;
    rec->discard = discard;
    pthread_cond_signal(&rec->cv_full);
    pthread_mutex_unlock(&rec->mu);
    pthread_join(rec->thread, NULL);
    rec->threaded = false;
}

/* Starts the writer thread if all columns are numeric and the environment
 * does not ask for the synchronous path. Any failure leaves the recorder
 * synchronous: the thread only makes it faster. */
static void start_writer(fmi_recorder *rec)
{
    const char *env = getenv("FMUGW_RECORDER_SYNC");
    if (!rec->numeric || (env && *env && strcmp(env, "0") != 0))
        return;
    rec->rows_per_chunk = CHUNK_SLOTS / rec->row_slots;
    if (rec->rows_per_chunk == 0)
        rec->rows_per_chunk = 1;
    for (int i = 0; i < QUEUE_CHUNKS; i++) {
        rec->chunks[i].slots = malloc(rec->rows_per_chunk * rec->row_slots * sizeof(uint64_t));
        if (!rec->chunks[i].slots)
            return;
    }
    if (pthread_mutex_init(&rec->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&rec->cv_full, NULL) != 0) {
        pthread_mutex_destroy(&rec->mu);
        return;
    }
    if (pthread_cond_init(&rec->cv_free, NULL) != 0) {
        pthread_cond_destroy(&rec->cv_full);
        pthread_mutex_destroy(&rec->mu);
        return;
    }
    rec->sync_ready = true;
    /* The thread takes no signals: they stay with the caller's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rec->threaded = pthread_create(&rec->thread, NULL, writer_main, rec) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* --- public API ----------------------------------------------------------- */

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
    rec->row_slots = rec->n_cols + 1;
    rec->cols = calloc(rec->n_cols + 1, sizeof *rec->cols);
    rec->row = calloc(rec->row_slots, sizeof *rec->row);
    if (!rec->cols || !rec->row) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    rec->numeric = rec->n_values[K_STR] == 0 && rec->n_values[K_BIN] == 0;
    /* With a single get call, values come back in column order. */
    rec->direct = rec->n_calls == 0 ||
                  (rec->n_calls == 1 && (rec->calls[0].k == K_F64 || rec->calls[0].k == K_INT || rec->calls[0].k == K_U64));
    rec->row_bound = rec->row_slots * MAX_NUMBER_LEN + 8;
    rec->row_reserve = rec->numeric && rec->row_bound <= OUT_BUF_SIZE;

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
    start_writer(rec);

out:
    if (rc < 0) {
        fmi_recorder_free(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int fmi_recorder_sample(fmi_recorder *rec, fmi_instance *inst, double t)
{
    if (rec->finished)
        return fmugw_error_set(FMUGW_ERROR, "recorder: sample after finish");
    if (rec->threaded) {
        int rc = read_row(rec, inst, t, rec->chunks[rec->prod].slots + rec->fill * rec->row_slots);
        if (rc < 0)
            return rc;
        rec->rows++;
        if (++rec->fill == rec->rows_per_chunk)
            hand_over(rec);
        if (rec->seen_failed)
            return fmugw_error_set(FMUGW_EIO, "cannot write results: write failed");
        return 0;
    }
    int rc = read_row(rec, inst, t, rec->row);
    if (rc < 0)
        return rc;
    format_row(rec, rec->row);
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
        stop_writer(rec, false);
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
    stop_writer(rec, true);
    if (rec->sync_ready) {
        pthread_cond_destroy(&rec->cv_free);
        pthread_cond_destroy(&rec->cv_full);
        pthread_mutex_destroy(&rec->mu);
    }
    for (int i = 0; i < QUEUE_CHUNKS; i++)
        free(rec->chunks[i].slots);
    for (size_t i = 0; i < rec->n_calls; i++)
        free(rec->calls[i].vrs);
    free(rec->calls);
    free(rec->cols);
    free(rec->row);
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
