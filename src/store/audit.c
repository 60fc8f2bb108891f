/* audit.c - the audit log hash chain (see audit.h for the exact hash). */
#include "audit.h"
#include "store_util.h"
#include "util/error.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static int hex_to_bytes(unsigned char out[32], const char *hex)
{
    if (!hex || strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char ch = hex[2 * i + j];
            v <<= 4;
            if (ch >= '0' && ch <= '9')
                v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v |= (unsigned)(ch - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int feed_netstring(EVP_MD_CTX *md, const char *s)
{
    char head[32];
    if (!s)
        return EVP_DigestUpdate(md, "~,", 2) == 1 ? 0 : -1;
    size_t n = strlen(s);
    int h = snprintf(head, sizeof head, "%zu:", n);
    if (EVP_DigestUpdate(md, head, (size_t)h) != 1 || EVP_DigestUpdate(md, s, n) != 1 ||
        EVP_DigestUpdate(md, ",", 1) != 1)
        return -1;
    return 0;
}

/* hash_hex = hex(SHA-256(prev || canonical(entry))). prev_hex must be
 * 64 lowercase hex digits. */
static int entry_hash(char hash_hex[65], const char *prev_hex, int64_t seq, int64_t at, const char *actor,
                      const char *action, const char *target, const char *detail)
{
    unsigned char prev[32], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char num[2][24];
    if (hex_to_bytes(prev, prev_hex) != 0)
        return FMUGW_EINVALID;
    snprintf(num[0], sizeof num[0], "%" PRId64, seq);
    snprintf(num[1], sizeof num[1], "%" PRId64, at);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, prev, 32) == 1 &&
             feed_netstring(ctx, num[0]) == 0 && feed_netstring(ctx, num[1]) == 0 &&
             feed_netstring(ctx, actor) == 0 && feed_netstring(ctx, action) == 0 &&
             feed_netstring(ctx, target) == 0 && feed_netstring(ctx, detail) == 0 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 failed");
    store__hex(hash_hex, md, 32);
    return 0;
}

typedef struct {
    const char *actor, *action, *target, *detail;
    int64_t seq; /* out */
} append_ctx;

static int append_tx(db_conn *c, void *vctx)
{
    append_ctx *a = vctx;
    db_stmt *st = NULL;
    char prev[65] = ZERO_HASH, hash[65];
    int64_t seq = 1, at = store__now_ms();
    int rc = db_query(&st, c, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", NULL);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        const char *h = db_column_text(st, 1);
        seq = db_column_int64(st, 0) + 1;
        snprintf(prev, sizeof prev, "%s", h ? h : "");
        rc = 0;
    }
    db_finalize(st);
    if (rc != 0)
        return rc;
    if (entry_hash(hash, prev, seq, at, a->actor, a->action, a->target, a->detail) != 0)
        return fmugw_error_set(FMUGW_EIO, "audit log: the last entry's hash is malformed (seq %" PRId64 ")",
                               seq - 1);
    rc = db_execp(NULL, c,
                  "INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  "iitttttt", seq, at, a->actor, a->action, a->target, a->detail, prev, hash);
    if (rc == FMUGW_EEXISTS) /* a concurrent writer took this seq: retry */
        rc = fmugw_error_set(FMUGW_ECONFLICT, "audit log: concurrent append");
    if (rc == 0)
        a->seq = seq;
    return rc;
}

int store_audit_append(int64_t *out_seq, db_conn *c, const char *actor, const char *action, const char *target,
                       const char *detail_json)
{
    if (!actor || !*actor || !action || !*action)
        return fmugw_error_set(FMUGW_EINVALID, "an audit entry needs an actor and an action");
    append_ctx a = {actor, action, target, detail_json, 0};
    int rc = db_transact(c, append_tx, &a);
    if (rc == 0 && out_seq)
        *out_seq = a.seq;
    return rc;
}

int store_audit_verify(int64_t *out_bad_seq, int64_t *out_count, db_conn *c)
{
    db_stmt *st = NULL;
    char prev[65] = ZERO_HASH, hash[65];
    int64_t expect = 1, bad = 0, count = 0;
    *out_bad_seq = 0;
    if (out_count)
        *out_count = 0;
    int rc = db_query(&st, c,
                      "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log ORDER BY seq",
                      NULL);
    while (rc == 0 && bad == 0 && (rc = db_step(st)) == 1) {
        rc = 0;
        count++;
        int64_t seq = db_column_int64(st, 0);
        const char *prev_hash = db_column_text(st, 6), *stored = db_column_text(st, 7);
        if (seq != expect || !prev_hash || strcmp(prev_hash, prev) != 0 || !stored ||
            entry_hash(hash, prev, seq, db_column_int64(st, 1), db_column_text(st, 2), db_column_text(st, 3),
                       db_column_text(st, 4), db_column_text(st, 5)) != 0 ||
            strcmp(hash, stored) != 0) {
            bad = seq < expect ? expect : seq; /* a removed entry shows at the one after the gap */
            break;
        }
        memcpy(prev, stored, sizeof prev);
        expect++;
    }
    db_finalize(st);
    if (rc < 0)
        return rc;
    *out_bad_seq = bad;
    if (out_count)
        *out_count = count;
    return 0;
}
