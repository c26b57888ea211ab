/*
** base/arena.h — a bump allocator for request-scoped memory.
**
** Allocations are carved from blocks and freed all at once by
** mast_arena_free(). Not thread-safe: one arena per request or thread.
*/
#ifndef MAST_BASE_ARENA_H
#define MAST_BASE_ARENA_H

#include <stddef.h>

typedef struct mast_arena_block mast_arena_block;

typedef struct mast_arena {
    mast_arena_block *head;   /* most recent block */
    size_t block_size;        /* default size of a new block */
} mast_arena;

/* Initialises an empty arena; block_size 0 picks 64 KiB. No allocation yet. */
void mast_arena_init(mast_arena *arena, size_t block_size);

/* Returns `size` bytes aligned to 16, or NULL when out of memory. The memory
** lives until mast_arena_free(). */
void *mast_arena_alloc(mast_arena *arena, size_t size);

/* Copies `len` bytes of `s` and a terminating NUL into the arena. */
char *mast_arena_strndup(mast_arena *arena, const char *s, size_t len);
char *mast_arena_strdup(mast_arena *arena, const char *s);

/* Frees every block; the arena may be used again afterwards. */
void mast_arena_free(mast_arena *arena);

#endif
