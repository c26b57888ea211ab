/*
** data/store_dedup.c — documents' MinHash signatures and LSH band keys
** (store.h; what they mean is data/dedup.h's). A signature is stored as a
** blob of MAST_STORE_MINHASH_K 32-bit values in this machine's byte order.
*/
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/store_impl.h"

mast_status mast_store_minhash_write(mast_store *store, int64_t doc_id, const uint32_t *sig)
{
    static const char del[] = "DELETE FROM doc_minhash WHERE document_id = ?";
    static const char put[] = "INSERT INTO doc_minhash(document_id, signature) VALUES(?, ?)";
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_cached(store, del, &stmt));
    sqlite3_bind_int64(stmt, 1, doc_id);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        return mast_store_error(store, "cannot replace a document's signature");
    if (!sig)
        return MAST_OK;
    MAST_TRY(mast_store_cached(store, put, &stmt));
    sqlite3_bind_int64(stmt, 1, doc_id);
    sqlite3_bind_blob(stmt, 2, sig, MAST_STORE_MINHASH_K * (int)sizeof *sig, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        return mast_store_error(store, "cannot write a document's signature");
    return MAST_OK;
}

/* Copies a signature column into sig: false when it is not one this mast wrote. */
static int column_sig(sqlite3_stmt *stmt, int col, uint32_t *sig)
{
    const void *blob = sqlite3_column_blob(stmt, col);
    if (!blob || sqlite3_column_bytes(stmt, col) != MAST_STORE_MINHASH_K * (int)sizeof *sig)
        return 0;
    memcpy(sig, blob, MAST_STORE_MINHASH_K * sizeof *sig);
    return 1;
}

/* Steps a statement of (id, uri, signature) rows into fn. */
static mast_status visit_rows(mast_store *store, sqlite3_stmt *stmt, mast_minhash_visit_fn fn,
                              void *ctx)
{
    int rc;
    uint32_t sig[MAST_STORE_MINHASH_K];
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!column_sig(stmt, 2, sig))
            continue;   /* not a signature this mast wrote */
        const unsigned char *uri = sqlite3_column_text(stmt, 1);
        if (fn(ctx, sqlite3_column_int64(stmt, 0), uri ? (const char *)uri : "", sig))
            break;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MAST_OK
                                                 : mast_store_error(store, "cannot read signatures");
}

mast_status mast_store_minhash_get(mast_store *store, int64_t doc_id, uint32_t *sig, char **uri)
{
    static const char sql[] =
        "SELECT d.uri, m.signature FROM documents d JOIN doc_minhash m ON m.document_id = d.id"
        " WHERE d.id = ?";
    *uri = NULL;
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_cached(store, sql, &stmt));
    sqlite3_bind_int64(stmt, 1, doc_id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        return MAST_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return mast_store_error(store, "cannot read a signature");
    if (!column_sig(stmt, 1, sig))
        return MAST_ERR_NOT_FOUND;
    const unsigned char *u = sqlite3_column_text(stmt, 0);
    if (!(*uri = strdup(u ? (const char *)u : "")))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    return MAST_OK;
}

mast_status mast_store_minhash_scan(mast_store *store, int64_t collection_id,
                                    mast_minhash_visit_fn fn, void *ctx)
{
    static const char sql[] =
        "SELECT d.id, d.uri, m.signature FROM documents d JOIN doc_minhash m ON m.document_id = d.id"
        " WHERE d.collection_id = ? ORDER BY d.id";
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, sql, &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    mast_status st = visit_rows(store, stmt, fn, ctx);
    sqlite3_finalize(stmt);
    return st;
}

mast_status mast_store_minhash_count(mast_store *store, int64_t collection_id, int64_t *n_docs,
                                     int64_t *n_signed)
{
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store,
                                "SELECT count(*), count(m.document_id) FROM documents d LEFT JOIN"
                                " doc_minhash m ON m.document_id = d.id WHERE d.collection_id = ?",
                                &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    mast_status st = MAST_OK;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *n_docs = sqlite3_column_int64(stmt, 0);
        *n_signed = sqlite3_column_int64(stmt, 1);
    } else {
        st = mast_store_error(store, "cannot count signatures");
    }
    sqlite3_finalize(stmt);
    return st;
}
