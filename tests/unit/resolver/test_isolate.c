/* tests for resolver/isolate: the sandbox on its own. Every hostile script is
 * stopped within its budget, the kill cannot be swallowed, the dangerous
 * library parts are absent, bytecode is refused, and the isolate answers the
 * next call normally. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver/isolate.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MEM_MAX (4 * 1024 * 1024)
#define INSTR_MAX 200000
#define TIMEOUT_US 50000
/* A call stopped by a limit must have used at most this much CPU time. CPU
 * time, not wall time: on a loaded machine the thread may wait for a core for
 * any length of time, which says nothing about the isolate; what it burns
 * itself does not move with the load. Generous for a sanitizer build: the
 * limits that stop these scripts cost a few milliseconds of CPU. */
#define STOP_WITHIN_CPU_MS 500

static const struct isolate_limits limits = {
	.mem_max = MEM_MAX,
	.instr_max = INSTR_MAX,
	.timeout_us = TIMEOUT_US,
};
/* for memory bombs: allocation is charged to the budget too (a byte per 16),
 * so a budget this large lets the memory cap trip first */
static const struct isolate_limits memory_limits = {
	.mem_max = MEM_MAX,
	.instr_max = 100 * 1000 * 1000,
	.timeout_us = 2 * 1000 * 1000,
};
static const struct isolate_limits *use_limits = &limits;

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct isolate *with_script(const char *src)
{
	struct isolate *iso = isolate_new(use_limits);
	assert_non_null(iso);
	char err[256] = "";
	enum isolate_status st = isolate_load(iso, src, strlen(src), "=test", err, sizeof(err));
	if (st != ISOLATE_OK)
		fail_msg("load: %s", err);
	return iso;
}

/* What a call took: wall time, and this thread's CPU time. */
struct took {
	uint64_t wall_ms, cpu_ms;
};

/* Call global @fn with no arguments; returns the status and, in @took, its time. */
static enum isolate_status call(struct isolate *iso, const char *fn, struct took *took, char *err,
				size_t cap)
{
	lua_State *L = isolate_state(iso);
	lua_getglobal(L, fn);
	uint64_t wall0 = clock_ms(CLOCK_MONOTONIC), cpu0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
	enum isolate_status st = isolate_call(iso, 0, 1, err, cap);
	if (took) {
		took->wall_ms = clock_ms(CLOCK_MONOTONIC) - wall0;
		took->cpu_ms = clock_ms(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	}
	if (st == ISOLATE_OK)
		lua_pop(L, 1);
	assert_int_equal(lua_gettop(L), 0); /* nothing left behind either way */
	return st;
}

/* After any failure, the same isolate still runs a normal call. */
static void assert_still_usable(struct isolate *iso)
{
	lua_State *L = isolate_state(iso);
	lua_getglobal(L, "ok");
	assert_int_equal(isolate_call(iso, 0, 1, NULL, 0), ISOLATE_OK);
	assert_int_equal(lua_tointeger(L, -1), 42);
	lua_pop(L, 1);
}

#define OK_FN "function ok() local s = 0 for i = 1, 10 do s = s + i end return s - 13 end\n"

/* The status of a call that wanted @want: the deadline is the isolate's
 * last word on any runaway, so it stands in for a CPU limit (a slow sanitizer
 * build meets it first) and, once the wall clock has really passed it (a
 * loaded machine), for the memory cap too: stopped either way. */
static enum isolate_status as_wanted(enum isolate_status st, enum isolate_status want,
				     const struct took *took)
{
	if (st != ISOLATE_TIMEOUT)
		return st;
	if (want == ISOLATE_BUDGET)
		return want;
	if (want == ISOLATE_MEMORY && took->wall_ms * 1000 >= use_limits->timeout_us)
		return want;
	return st;
}

/* @src's f() is stopped with @want, using little CPU (however loaded the
 * machine), within the memory cap, and the isolate serves the next call. */
static void stopped(const char *src, enum isolate_status want)
{
	char script[4096];
	snprintf(script, sizeof(script), OK_FN "%s", src);
	struct isolate *iso = with_script(script);
	struct took took;
	char err[256] = "";
	for (int round = 0; round < 2; round++) {
		/* the second round: the kill of one call does not linger into the next */
		enum isolate_status st = as_wanted(call(iso, "f", &took, err, sizeof(err)), want, &took);
		if (st != want)
			fail_msg("%s: got %s (%s), want %s", src, isolate_status_text(st), err,
				 isolate_status_text(want));
		if (took.cpu_ms >= STOP_WITHIN_CPU_MS)
			fail_msg("%s: stopped after %llu ms of CPU (%llu ms wall)", src,
				 (unsigned long long)took.cpu_ms, (unsigned long long)took.wall_ms);
		assert_true(isolate_mem_used(iso) <= MEM_MAX + ISOLATE_HOST_SLACK);
		assert_still_usable(iso);
	}
	isolate_free(iso);
}

static void test_isolate_runs_a_normal_call(void **state)
{
	(void)state;
	struct isolate *iso = with_script(OK_FN);
	assert_still_usable(iso);
	isolate_free(iso);
}

static void test_isolate_stops_an_infinite_loop(void **state)
{
	(void)state;
	stopped("function f() while true do end end", ISOLATE_BUDGET);
}

static void test_isolate_kill_survives_pcall(void **state)
{
	(void)state;
	stopped("function f() while true do pcall(function() while true do end end) end end",
		ISOLATE_BUDGET);
	stopped("function f() local n = 0 while true do n = n + 1 "
		"pcall(error, 'x') end end",
		ISOLATE_BUDGET);
}

static void test_isolate_kill_survives_xpcall_handler(void **state)
{
	(void)state;
	stopped("function f() while true do xpcall(function() while true do end end, "
		"function() while true do end end) end end",
		ISOLATE_BUDGET);
}

static void test_isolate_stops_loops_in_coroutines(void **state)
{
	(void)state;
	stopped("function f() local co = coroutine.create(function() while true do end end) "
		"while true do coroutine.resume(co) co = coroutine.create(function() while true do end end) end end",
		ISOLATE_BUDGET);
	stopped("function f() while true do pcall(coroutine.wrap(function() while true do "
		"coroutine.yield() end end)) end end",
		ISOLATE_BUDGET);
}

static void test_isolate_kill_sticks_in_an_old_coroutine(void **state)
{
	(void)state;
	/* a coroutine made in an earlier call keeps its own hook countdown */
	stopped("co = coroutine.wrap(function() while true do coroutine.yield(1) end end)\n"
		"function f() while true do pcall(co) end end",
		ISOLATE_BUDGET);
}

static void test_isolate_stops_memory_bombs(void **state)
{
	(void)state;
	use_limits = &memory_limits;
	stopped("function f() local t = {} local i = 0 while true do i = i + 1 t[i] = {i, i, i} end end",
		ISOLATE_MEMORY);
	stopped("function f() local s = 'x' while true do s = s .. s end end", ISOLATE_MEMORY);
	/* caught memory errors do not help */
	stopped("function f() local keep = {} while true do pcall(function() "
		"local t = {} for i = 1, 1e9 do t[i] = i end end) keep[#keep + 1] = {} end end",
		ISOLATE_MEMORY);
	use_limits = &limits;
	/* with the usual budget, the allocations' charge stops it all the same */
	stopped("function f() local t = {} while true do t[#t + 1] = {} end end", ISOLATE_BUDGET);
}

static void test_isolate_memory_stays_capped(void **state)
{
	(void)state;
	use_limits = &memory_limits;
	struct isolate *iso = with_script(OK_FN "big = {} function f() for i = 1, 1e9 do big[i] = i end end");
	struct took took;
	enum isolate_status st = call(iso, "f", &took, NULL, 0);
	assert_int_equal(as_wanted(st, ISOLATE_MEMORY, &took), ISOLATE_MEMORY);
	assert_true(isolate_mem_used(iso) <= MEM_MAX + ISOLATE_HOST_SLACK);
	isolate_free(iso);
	use_limits = &limits;
}

static void test_isolate_has_no_pattern_matching(void **state)
{
	(void)state;
	struct isolate *iso = with_script(OK_FN
		"function f() return string.match == nil and string.gmatch == nil and "
		"string.gsub == nil and (''):find('a') == nil and ('a.b'):find('.', 1) == 2 end");
	lua_State *L = isolate_state(iso);
	lua_getglobal(L, "f");
	assert_int_equal(isolate_call(iso, 0, 1, NULL, 0), ISOLATE_OK);
	assert_true(lua_toboolean(L, -1));
	lua_pop(L, 1);
	isolate_free(iso);
	/* the classic catastrophic backtracking: find is plain, so it is linear */
	stopped("function f() local s = string.rep('a', 100000) "
		"while true do s:find(string.rep('a?', 3000) .. string.rep('a', 3000)) end end",
		ISOLATE_BUDGET);
}

static void test_isolate_charges_string_rep(void **state)
{
	(void)state;
	stopped("function f() return string.rep('', 1e15) end", ISOLATE_BUDGET);
	stopped("function f() return string.rep('x', 1e12) end", ISOLATE_BUDGET);
	stopped("function f() return ('x'):rep(1e9, ',') end", ISOLATE_BUDGET);
	stopped("function f() while true do local s = string.rep('x', 100000) end end", ISOLATE_BUDGET);
}

static void test_isolate_charges_table_functions(void **state)
{
	(void)state;
	stopped("function f() return table.move({}, 1, 1e15, 2) end", ISOLATE_BUDGET);
	stopped("function f() return table.unpack({}, 1, 1e8) end", ISOLATE_BUDGET);
	stopped("function f() return table.concat({}, ',', 1, 1e12) end", ISOLATE_BUDGET);
	stopped("function f() local t = {} for i = 1, 20000 do t[i] = -i end "
		"while true do table.sort(t) end end",
		ISOLATE_BUDGET);
	stopped("function f() local t = {} for i = 1, 20000 do t[i] = i end "
		"while true do table.insert(t, 1, 0) table.remove(t, 1) end end",
		ISOLATE_BUDGET);
	stopped("function f() local t = setmetatable({}, {__len = function() return 1e15 end}) "
		"table.insert(t, 1, 1) end",
		ISOLATE_BUDGET);
}

static void test_isolate_refuses_gc_metamethods(void **state)
{
	(void)state;
	struct isolate *iso = isolate_new(&limits);
	char err[256] = "";
	const char *src = "setmetatable({}, {__gc = function() while true do end end})";
	assert_int_equal(isolate_load(iso, src, strlen(src), "=gc", err, sizeof(err)), ISOLATE_ERROR);
	assert_non_null(strstr(err, "__gc"));
	isolate_free(iso);
	stopped("function f() while true do pcall(setmetatable, {}, {__gc = function() "
		"while true do end end}) end end",
		ISOLATE_BUDGET);
}

struct dump {
	char buf[4096];
	size_t len;
};

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	(void)L;
	struct dump *d = ud;
	if (d->len + sz > sizeof(d->buf))
		return 1;
	memcpy(d->buf + d->len, p, sz);
	d->len += sz;
	return 0;
}

static void test_isolate_refuses_bytecode(void **state)
{
	(void)state;
	/* a binary chunk (ESC "Lua"...), compiled in a plain state */
	lua_State *L = luaL_newstate();
	assert_int_equal(luaL_loadstring(L, "function f() return 1 end"), LUA_OK);
	static struct dump d;
	assert_int_equal(lua_dump(L, dump_writer, &d, 0), 0);
	lua_close(L);
	assert_true(d.len > 4 && d.buf[0] == 0x1b);
	struct isolate *iso = isolate_new(&limits);
	char err[256] = "";
	assert_int_equal(isolate_load(iso, d.buf, d.len, "=bin", err, sizeof(err)), ISOLATE_ERROR);
	assert_non_null(strstr(err, "binary"));
	isolate_free(iso);
}

static void test_isolate_has_no_io_os_package_debug_load(void **state)
{
	(void)state;
	static const char *const absent[] = {
		"io", "os", "package", "debug", "load", "loadfile", "dofile", "require", "collectgarbage",
		"print", "loadstring", "string.dump", "module",
	};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		char src[256];
		snprintf(src, sizeof(src),
			 OK_FN "function f() local ok, v = pcall(function() return %s end) return not ok or v == nil end",
			 absent[i]);
		struct isolate *iso = with_script(src);
		lua_State *L = isolate_state(iso);
		lua_getglobal(L, "f");
		assert_int_equal(isolate_call(iso, 0, 1, NULL, 0), ISOLATE_OK);
		if (!lua_toboolean(L, -1))
			fail_msg("%s is reachable", absent[i]);
		lua_pop(L, 1);
		isolate_free(iso);
	}
	/* nor through the string metatable */
	stopped("function f() return ('').dump(f) end", ISOLATE_ERROR);
	stopped("function f() return getmetatable('').__index.gsub('a', 'a', 'b') end", ISOLATE_ERROR);
}

static void test_isolate_reports_errors_with_lines(void **state)
{
	(void)state;
	struct isolate *iso = isolate_new(&limits);
	char err[256] = "";
	const char *src = "local x = 1\nfunction f(\n";
	assert_int_equal(isolate_load(iso, src, strlen(src), "@policy.lua", err, sizeof(err)),
			 ISOLATE_ERROR);
	assert_non_null(strstr(err, "policy.lua:"));
	src = "local x = 1\nerror('boom')\n";
	assert_int_equal(isolate_load(iso, src, strlen(src), "@policy.lua", err, sizeof(err)),
			 ISOLATE_ERROR);
	assert_non_null(strstr(err, "policy.lua:2: boom"));
	isolate_free(iso);
}

static void test_isolate_stops_at_the_deadline(void **state)
{
	(void)state;
	/* a generous instruction budget: the wall clock must stop it */
	struct isolate_limits lim = limits;
	lim.instr_max = UINT64_MAX / 4;
	lim.timeout_us = 20000;
	struct isolate *iso = isolate_new(&lim);
	const char *src = OK_FN "function f() while true do end end";
	assert_int_equal(isolate_load(iso, src, strlen(src), "=t", NULL, 0), ISOLATE_OK);
	struct took took;
	assert_int_equal(call(iso, "f", &took, NULL, 0), ISOLATE_TIMEOUT);
	/* never before the deadline (by the clock the isolate reads)... */
	assert_true(took.wall_ms >= 19);
	/* ...and soon after it in what the loop could burn: until the deadline
	 * at most its 20 ms of CPU, then one hook's worth. No wall-clock upper
	 * bound: a loaded machine may keep the thread off a core any time. */
	assert_true(took.cpu_ms < 200);
	assert_still_usable(iso);
	isolate_free(iso);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isolate_runs_a_normal_call),
		cmocka_unit_test(test_isolate_stops_an_infinite_loop),
		cmocka_unit_test(test_isolate_kill_survives_pcall),
		cmocka_unit_test(test_isolate_kill_survives_xpcall_handler),
		cmocka_unit_test(test_isolate_stops_loops_in_coroutines),
		cmocka_unit_test(test_isolate_kill_sticks_in_an_old_coroutine),
		cmocka_unit_test(test_isolate_stops_memory_bombs),
		cmocka_unit_test(test_isolate_memory_stays_capped),
		cmocka_unit_test(test_isolate_has_no_pattern_matching),
		cmocka_unit_test(test_isolate_charges_string_rep),
		cmocka_unit_test(test_isolate_charges_table_functions),
		cmocka_unit_test(test_isolate_refuses_gc_metamethods),
		cmocka_unit_test(test_isolate_refuses_bytecode),
		cmocka_unit_test(test_isolate_has_no_io_os_package_debug_load),
		cmocka_unit_test(test_isolate_reports_errors_with_lines),
		cmocka_unit_test(test_isolate_stops_at_the_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
