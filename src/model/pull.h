/*
** model/pull.h — the models folder, and downloading a model into it.
**
** The folder ($MAST_MODELS, else $XDG_DATA_HOME/mast/models, else
** ~/.local/share/mast/models) holds NAME.gguf files, each with NAME.json
** beside it saying where it came from ({"url", "sha256", "bytes",
** "pulled_at"}). A download in progress is .NAME.gguf.part (with
** .NAME.gguf.part.json: its URL and the server's validator), so the folder
** never shows a model that is not whole: the file is checked (its SHA-256
** when given, then as GGUF) before it is renamed into place.
*/
#ifndef MAST_MODEL_PULL_H
#define MAST_MODEL_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "mast.h"

/* The models folder's path (not created). */
mast_status mast_models_dir(mast_buf *out);
/* Whether name may name a model in the folder: 1 to 128 of letters, digits,
** '.', '_' and '-', not starting with '.'. */
bool mast_model_name_ok(const char *name);
/* NAME's file in dir (NULL: the models folder): MAST_ERR_NOT_FOUND when there
** is none. */
mast_status mast_models_find_file(const char *dir, const char *name, mast_buf *path);

typedef struct mast_pull_opts {
    const char *url;             /* http:// or https:// */
    const char *sha256;          /* 64 hex digits to verify against, or NULL */
    const char *name;            /* NULL: from the URL's last segment, without .gguf */
    const char *dir;             /* NULL: the models folder (created if need be) */
    int retries;                 /* a dropped transfer is resumed this many times (<0: 5) */
    bool force;                  /* replace a model of that name */
    bool progress;               /* a progress bar on stderr (when it is a terminal) */
} mast_pull_opts;

typedef struct mast_pull_result {
    mast_buf path;               /* the model's file (free with mast_buf_free) */
    char name[129];
    char sha256[65];
    uint64_t bytes;
    uint64_t resumed_from;       /* bytes already there from an earlier attempt (0: none) */
    int attempts;                /* HTTP requests made */
    double seconds;
} mast_pull_result;

/* Downloads url into the folder as NAME.gguf: a transfer that drops is
** resumed with an HTTP range request (If-Range: the server's ETag or
** Last-Modified, so a changed file starts over), as is a partial download an
** earlier run left; then the SHA-256 (when given) and the GGUF structure are
** checked and the file renamed into place. Errors name the URL and the
** problem; a checksum or format failure removes the download, a network one
** keeps it for the next run to resume. */
mast_status mast_pull(const mast_pull_opts *o, mast_pull_result *out);

#endif
