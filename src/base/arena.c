/*
** base/arena.c — bump allocator (see arena.h).
*/
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mast_arena_block {
    mast_arena_block *prev;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void mast_arena_init(mast_arena *arena, size_t block_size)
{
    arena->head = NULL;
    arena->block_size = block_size ? block_size : 64 * 1024;
}

void *mast_arena_alloc(mast_arena *arena, size_t size)
{
    size_t aligned = (size + 15) & ~(size_t)15;
    if (aligned < size)
        return NULL;
    mast_arena_block *b = arena->head;
    if (!b || b->cap - b->used < aligned) {
        size_t cap = aligned > arena->block_size ? aligned : arena->block_size;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->prev = arena->head;
        b->used = 0;
        b->cap = cap;
        arena->head = b;
    }
    void *p = b->data + b->used;
    b->used += aligned;
    return p;
}

char *mast_arena_strndup(mast_arena *arena, const char *s, size_t len)
{
    char *p = mast_arena_alloc(arena, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

char *mast_arena_strdup(mast_arena *arena, const char *s)
{
    return mast_arena_strndup(arena, s, strlen(s));
}

void mast_arena_free(mast_arena *arena)
{
    mast_arena_block *b = arena->head;
    while (b) {
        mast_arena_block *prev = b->prev;
        free(b);
        b = prev;
    }
    arena->head = NULL;
}
