/*
** data/dedup.h — near-duplicate documents: MinHash signatures with LSH
** banding.
**
** A document's shingles are its runs of 3 consecutive words (a word: letters
** and digits, ASCII lowercased; other UTF-8 characters kept as they are).
** Its signature holds, for each of MAST_MINHASH_K hash functions, the
** smallest hash of any shingle; the share of equal values of two signatures
** estimates the Jaccard similarity of their shingle sets (standard error
** about sqrt(J(1-J)/K): 0.044 at J = 0.5). LSH: the first 126 values in 42
** bands of 3; two documents that agree in a whole band are candidates, which
** happens with probability 1-(1-J^3)^42: 0.996 at J = 0.5, 0.94 at J = 0.4,
** 0.5% at J = 0.05. Candidates are then compared on the whole signature.
**
** The default threshold was measured, not guessed (bench/ingest/dedup.py;
** docs/benchmarks.md): edited copies of real abstracts with up to 10% of
** their words changed are duplicates, copies with 30% or more and documents
** spliced from two are not.
*/
#ifndef MAST_DATA_DEDUP_H
#define MAST_DATA_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "data/store.h"

#define MAST_MINHASH_K MAST_STORE_MINHASH_K
#define MAST_MINHASH_BANDS 42
#define MAST_MINHASH_ROWS 3
#define MAST_DEDUP_THRESHOLD 0.5

typedef struct mast_minhash {
    uint32_t v[MAST_MINHASH_K];
    uint64_t n_shingles;           /* 0: no words, no signature */
    /* while adding: the last two words' hashes and how many words so far */
    uint64_t w1, w2;
    uint64_t n_words;
} mast_minhash;

/* Streaming: begin, add any number of text pieces (a piece boundary is a
** word boundary), end. A text of one or two words is one shingle. */
void mast_minhash_begin(mast_minhash *m);
void mast_minhash_add(mast_minhash *m, const char *text, size_t len);
void mast_minhash_end(mast_minhash *m);

/* The band keys of a signature (each band's 3 values and its index hashed). */
void mast_minhash_bands(const uint32_t sig[MAST_MINHASH_K], int64_t bands[MAST_MINHASH_BANDS]);

/* The estimated Jaccard similarity of two signatures: equal values / K. */
double mast_minhash_similarity(const uint32_t a[MAST_MINHASH_K], const uint32_t b[MAST_MINHASH_K]);

typedef enum { MAST_DEDUP_LINK, MAST_DEDUP_SKIP, MAST_DEDUP_OFF } mast_dedup_mode;
/* "link", "skip", "off" → the mode; -1 for anything else. */
int mast_dedup_mode_parse(const char *s);

typedef struct mast_dedup_match {
    int64_t doc_id;        /* 0: none at or above the threshold */
    char *uri;             /* malloc'ed */
    double similarity;
} mast_dedup_match;

/* The LSH band index of a collection, in memory: built from the stored
** signatures (mast_lsh_open) and kept up to date by the caller as it stores
** documents (mast_lsh_add). For each band key it keeps the 8 oldest
** documents, so a key that thousands of copies share costs no more than
** another. An entry is 8 bytes (a 32-bit key tag and the document's index),
** and the candidates are compared on the low 16 bits of each signature value,
** kept beside: about 0.9 KB a document. Keeping the keys in SQLite instead, a
** B-tree of random keys, dirtied 42 pages a document and made ingest 3 times
** slower; reading each candidate's signature from the store cost 1 ms a
** document on templated pages. */
typedef struct mast_lsh mast_lsh;
mast_status mast_lsh_open(mast_store *store, int64_t collection_id, mast_lsh **out);
mast_status mast_lsh_add(mast_lsh *l, int64_t doc_id, const uint32_t sig[MAST_MINHASH_K]);
void mast_lsh_free(mast_lsh *l);

/* The stored document most similar to `sig` among the index's candidates
** stored before `before_id` (so that a document is only ever a duplicate of
** an older one; INT64_MAX for a new document) whose similarity is at least
** `threshold`; signatures are read from the store. m->doc_id is 0 when there
** is none. */
mast_status mast_dedup_find(mast_store *store, const mast_lsh *l, const uint32_t *sig,
                            int64_t before_id, double threshold, mast_dedup_match *m);

/* ---- clusters of a stored collection (mast dedup report) ---- */

typedef struct mast_dedup_member {
    int64_t doc_id;
    double similarity;     /* to the cluster's first (oldest) document */
} mast_dedup_member;

typedef struct mast_dedup_cluster {
    mast_dedup_member *members;   /* oldest first */
    size_t n;
} mast_dedup_cluster;

typedef struct mast_dedup_pair {
    int64_t a, b;          /* a < b */
    double similarity;
} mast_dedup_pair;

typedef struct mast_dedup_report {
    size_t n_documents, n_signed;  /* documents, and those with a signature */
    mast_dedup_cluster *clusters;  /* largest first, then by first document */
    size_t n_clusters;
    size_t n_duplicates;           /* documents in clusters that are not the first */
    mast_dedup_pair *pairs;        /* every candidate pair at or above the threshold */
    size_t n_pairs;
} mast_dedup_report;

/* Groups the collection's documents whose similarity is at least
** `threshold`: in id order, each joins the cluster of the most similar older
** document that leads one (over LSH candidate pairs), else leads its own, so
** every member is at least `threshold` like its cluster's first document. */
mast_status mast_dedup_report_build(mast_store *store, int64_t collection_id, double threshold,
                                    mast_dedup_report *r);
void mast_dedup_report_free(mast_dedup_report *r);

#endif
