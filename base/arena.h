/* base/arena: region allocation with a hard byte cap. Each request and each
 * resolution lives in its own arena, as its first allocation; freeing it means
 * arena_destroy(). Reaching the cap returns NULL: the caller fails that query
 * (SERVFAIL); network input never aborts the process. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct arena;

/** A new arena that will hand out at most @cap bytes. NULL if malloc fails. */
struct arena *arena_create(size_t cap);
/** @size bytes aligned for any type, owned by @a until arena_destroy().
 * NULL at the cap or when memory runs out. */
void *arena_alloc(struct arena *a, size_t size);
/** arena_alloc() then zeroed. */
void *arena_zalloc(struct arena *a, size_t size);
/** A copy of @len bytes of @src, owned by @a. */
void *arena_memdup(struct arena *a, const void *src, size_t len);
/** Run fn(arg) at destroy time, last registered first. Returns 0 or TERN_ELIMIT. */
int arena_defer(struct arena *a, void (*fn)(void *), void *arg);
/** Bytes handed out so far. */
size_t arena_used(const struct arena *a);
/** Run the deferred functions, then free every block. NULL is a no-op. */
void arena_destroy(struct arena *a);
