/* base/arena: blocks chained from the arena header; allocations bump a pointer.
 * Large requests get a block of their own. The cap counts bytes handed out. */
#include "base/arena.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE 4096 /* one page: most requests fit in their first block */
#define ARENA_ALIGN 16

struct block {
	struct block *next;
	size_t size, used;
	_Alignas(ARENA_ALIGN) uint8_t data[];
};

struct deferred {
	struct deferred *next;
	void (*fn)(void *);
	void *arg;
};

struct arena {
	struct block *head;
	struct deferred *defers;
	size_t cap, used;
};

static struct block *block_new(size_t size)
{
	struct block *b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_create(size_t cap)
{
	struct arena *a = malloc(sizeof(*a));
	if (!a)
		return NULL;
	a->head = NULL;
	a->defers = NULL;
	a->cap = cap;
	a->used = 0;
	return a;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (size == 0)
		size = ARENA_ALIGN;
	if (size > a->cap - a->used)
		return NULL;
	struct block *b = a->head;
	if (!b || b->size - b->used < size) {
		size_t bsize = size > ARENA_BLOCK_SIZE / 2 ? size : ARENA_BLOCK_SIZE;
		struct block *nb = block_new(bsize);
		if (!nb)
			return NULL;
		if (b && bsize == size && b->size - b->used >= ARENA_ALIGN) {
			/* keep the roomier current block in front */
			nb->next = b->next;
			b->next = nb;
			nb->used = size;
			a->used += size;
			return nb->data;
		}
		nb->next = b;
		a->head = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += size;
	a->used += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *arena_memdup(struct arena *a, const void *src, size_t len)
{
	void *p = arena_alloc(a, len);
	if (p && len)
		memcpy(p, src, len);
	return p;
}

int arena_defer(struct arena *a, void (*fn)(void *), void *arg)
{
	struct deferred *d = arena_alloc(a, sizeof(*d));
	if (!d)
		return TERN_ELIMIT;
	d->fn = fn;
	d->arg = arg;
	d->next = a->defers;
	a->defers = d;
	return 0;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}

void arena_destroy(struct arena *a)
{
	if (!a)
		return;
	for (struct deferred *d = a->defers; d; d = d->next)
		d->fn(d->arg);
	struct block *b = a->head;
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}
