/* tests for base/arena: the cap, alignment and deferred cleanups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/arena.h"

static void test_arena_enforces_cap(void **state)
{
	struct arena *a = arena_create(1000);
	assert_non_null(a);
	assert_non_null(arena_alloc(a, 500));
	assert_null(arena_alloc(a, 600));
	assert_non_null(arena_alloc(a, 400));
	arena_destroy(a);
}

static void test_arena_aligns_and_spans_blocks(void **state)
{
	struct arena *a = arena_create(1 << 20);
	for (int i = 0; i < 1000; i++) {
		uint8_t *p = arena_alloc(a, (size_t)(i % 37) + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		p[0] = 1;
	}
	uint8_t *big = arena_alloc(a, 100000);
	assert_non_null(big);
	big[99999] = 1;
	arena_destroy(a);
}

static int order[3], n_order;
static void record(void *arg) { order[n_order++] = (int)(intptr_t)arg; }

static void test_arena_runs_defers_last_first(void **state)
{
	struct arena *a = arena_create(4096);
	n_order = 0;
	arena_defer(a, record, (void *)1);
	arena_defer(a, record, (void *)2);
	arena_defer(a, record, (void *)3);
	arena_destroy(a);
	assert_int_equal(n_order, 3);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[2], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_enforces_cap),
		cmocka_unit_test(test_arena_aligns_and_spans_blocks),
		cmocka_unit_test(test_arena_runs_defers_last_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
