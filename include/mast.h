/*
** mast.h — the public C API of mast, the modern AI stack in one library.
**
** Conventions (as libgit2): every fallible function returns a mast_status
** (MAST_OK or an error code) and, on error, leaves a human-readable detail in
** a thread-local message readable with mast_errmsg(). Constructors write to an
** out-parameter; every type has a _free/_close that accepts NULL. Ownership of
** every returned pointer is stated next to the function.
**
** Thread safety: a mast_store is one SQLite connection and must be used by one
** thread at a time; a mast_retriever is shared and thread-safe.
*/
#ifndef MAST_H
#define MAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes ------------------------------------------------------ */

typedef enum mast_status {
    MAST_OK = 0,
    MAST_ERR_INVALID,      /* a bad argument or malformed input */
    MAST_ERR_NOMEM,        /* out of memory */
    MAST_ERR_IO,           /* a file or socket operation failed */
    MAST_ERR_NOT_FOUND,    /* the named thing does not exist */
    MAST_ERR_EXISTS,       /* the named thing already exists */
    MAST_ERR_FORMAT,       /* input is not in the expected format */
    MAST_ERR_DB,           /* the SQLite store reported an error */
    MAST_ERR_LIMIT,        /* a configured limit was exceeded */
    MAST_ERR_UNSUPPORTED,  /* not supported (yet) */
    MAST_ERR_INTERNAL      /* a bug in mast */
} mast_status;

/* A static, short description of a status code ("invalid input"...). */
const char *mast_strerror(mast_status status);

/* The detail message of the last error on this thread ("" if none). The
** pointer stays valid until the next mast call on the same thread. */
const char *mast_errmsg(void);

/* The library version, e.g. "0.1.0". */
const char *mast_version(void);

/* ---- Store ------------------------------------------------------------- */

typedef struct mast_store mast_store;

/* Opens (creating and migrating if needed) the SQLite store at `path`.
** The caller owns *out and frees it with mast_store_close(). */
mast_status mast_store_open(mast_store **out, const char *path);
void mast_store_close(mast_store *store);

/* ---- Retrieval --------------------------------------------------------- */

/* A shared, thread-safe cache of the derived indexes of every collection. */
typedef struct mast_retriever mast_retriever;
mast_status mast_retriever_create(mast_retriever **out);
void mast_retriever_free(mast_retriever *retriever);

/* One search result. All strings are owned by the result array. */
typedef struct mast_result {
    int rank;              /* 1-based */
    double score;
    int64_t chunk_id;
    int64_t doc_id;
    char *uri;
    char *title;
    char *heading;         /* heading path, " > " separated; "" if none */
    char *text;
} mast_result;

void mast_results_free(mast_result *results, size_t n_results);

#ifdef __cplusplus
}
#endif
#endif
