/* resolver/isolate: the sandbox; see isolate.h. The limits are enforced from
 * the outside of Lua, never by patching it:
 * - memory: the lua_Alloc of every state counts its bytes and refuses past the
 *   cap (and any one object above a quarter of it), which Lua turns into a
 *   "not enough memory" error;
 * - CPU: a count hook every ISOLATE_HOOK_EVERY instructions adds to the call's
 *   tally and reads the monotonic clock; bytes allocated and the size of the
 *   work of library functions that loop inside C are charged to the same tally.
 *   The deadline is set by the call's first hook (the clock's first reading):
 *   a call that ends sooner, as most do, never reads the clock, and what runs
 *   before that hook is bounded by the instruction budget;
 * - a kill sticks: once a limit trips, the allocator refuses every growth and
 *   the hook, now on every instruction, raises again, until the call returns.
 * Library functions that can run unbounded inside C, where no hook fires, are
 * removed (pattern matching, whose backtracking has no bound) or wrapped to
 * charge for their size before they run. */
#include "resolver/isolate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define ISOLATE_HOOK_EVERY 100 /* instructions between hooks: bounds the overshoot of a limit */
#define CHARGE_BYTE_SHIFT 4    /* one instruction per 16 bytes allocated or scanned */
#define OBJECT_MAX_DIVISOR 4   /* no one object above mem_max / 4: bounds O(n) work in C */
#define SCRIPT_SIZE_MAX (4 * 1024 * 1024)

struct isolate {
	lua_State *L;
	struct isolate_limits lim;
	size_t used;
	size_t object_max;
	bool in_call;
	enum isolate_status killed;
	uint64_t instr_used, instr_max;
	uint64_t deadline_ns; /* 0: not yet set (the call's first hook sets it) */
	uint64_t timeout_ns;
	uint64_t last_instr;
	bool every_instr; /* a kill left the hook on every instruction */
};

static const char KILL_KEY = 'k'; /* registry key of the preallocated kill message */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void hook(lua_State *L, lua_Debug *ar);

/* Make the kill stick: from now on the hook fires on every instruction of
 * the main thread; a coroutine's own countdown reaches it within
 * ISOLATE_HOOK_EVERY instructions, and then it too goes to every one. */
static void kill_call(struct isolate *iso, enum isolate_status why)
{
	if (!iso->killed)
		iso->killed = why;
	iso->every_instr = true;
	lua_sethook(iso->L, hook, LUA_MASKCOUNT, 1);
}

static void *iso_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct isolate *iso = ud;
	size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
	if (nsize == 0) {
		free(ptr);
		iso->used -= old;
		return NULL;
	}
	if (nsize > old) {
		size_t grow = nsize - old;
		if (iso->in_call) {
			if (iso->killed)
				return NULL;
			if (iso->used + grow > iso->lim.mem_max || nsize > iso->object_max) {
				kill_call(iso, ISOLATE_MEMORY);
				return NULL;
			}
			iso->instr_used += grow >> CHARGE_BYTE_SHIFT;
			if (iso->instr_used > iso->instr_max) {
				kill_call(iso, ISOLATE_BUDGET);
				return NULL;
			}
		} else if (iso->used + grow > iso->lim.mem_max + ISOLATE_HOST_SLACK) {
			return NULL;
		}
	}
	void *p = realloc(ptr, nsize);
	if (!p)
		return nsize <= old ? ptr : NULL; /* Lua assumes a shrink never fails */
	iso->used = iso->used - old + nsize;
	return p;
}

static struct isolate *iso_of(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

static int raise_kill(lua_State *L)
{
	lua_sethook(L, hook, LUA_MASKCOUNT, 1); /* this thread too, if a coroutine */
	/* no allocation here: the message was made when the state was */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &KILL_KEY);
	return lua_error(L);
}

static void hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct isolate *iso = iso_of(L);
	if (!iso->in_call)
		return;
	if (!iso->killed) {
		iso->instr_used += ISOLATE_HOOK_EVERY;
		if (iso->instr_used > iso->instr_max) {
			kill_call(iso, ISOLATE_BUDGET);
		} else {
			uint64_t now = now_ns();
			if (!iso->deadline_ns) {
				iso->deadline_ns = now + iso->timeout_ns;
				return;
			}
			if (now <= iso->deadline_ns)
				return;
			kill_call(iso, ISOLATE_TIMEOUT);
		}
	}
	raise_kill(L);
}

void isolate_charge(lua_State *L, uint64_t units)
{
	struct isolate *iso = iso_of(L);
	if (!iso->in_call)
		return;
	if (!iso->killed) {
		iso->instr_used += units;
		if (iso->instr_used <= iso->instr_max && units < iso->instr_max)
			return;
		kill_call(iso, ISOLATE_BUDGET);
	}
	raise_kill(L);
}

/* ---- the library, made safe ---- */

/* Call the wrapped original (upvalue 1) with every argument, return all it returns. */
static int call_original(lua_State *L)
{
	int n = lua_gettop(L);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, LUA_MULTRET);
	return lua_gettop(L);
}

static uint64_t span(lua_Integer from, lua_Integer to)
{
	return to >= from ? (uint64_t)to - (uint64_t)from + 1 : 0;
}

static uint64_t log2_ceil(uint64_t n)
{
	uint64_t l = 1;
	while (n >>= 1)
		l++;
	return l;
}

/* table.sort: n log n comparisons, done in C */
static int safe_sort(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 1);
	if (n > 1)
		isolate_charge(L, (uint64_t)n * log2_ceil((uint64_t)n));
	return call_original(L);
}

/* table.insert, table.remove: shift up to #t elements */
static int safe_shift(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 1);
	if (n > 0)
		isolate_charge(L, (uint64_t)n);
	return call_original(L);
}

/* table.concat(t, sep, i, j), table.unpack(t, i, j): j - i + 1 elements */
static int safe_range_of_table(lua_State *L, int i_arg)
{
	lua_Integer i = luaL_optinteger(L, i_arg, 1);
	lua_Integer j = lua_isnoneornil(L, i_arg + 1) ? luaL_len(L, 1) : luaL_checkinteger(L, i_arg + 1);
	isolate_charge(L, span(i, j));
	return call_original(L);
}

static int safe_concat(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	return safe_range_of_table(L, 3);
}

static int safe_unpack(lua_State *L)
{
	return safe_range_of_table(L, 2);
}

/* table.move(a1, f, e, t [, a2]): e - f + 1 elements */
static int safe_move(lua_State *L)
{
	lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
	isolate_charge(L, span(f, e));
	return call_original(L);
}

/* string.rep(s, n [, sep]): n rounds of a loop in C, even for "" */
static int safe_rep(lua_State *L)
{
	size_t l, lsep = 0;
	luaL_checklstring(L, 1, &l);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (n > 0) {
		uint64_t total = ((uint64_t)l + lsep) * (uint64_t)n;
		if (l + lsep > 0 && total / (l + lsep) != (uint64_t)n)
			total = UINT64_MAX;
		isolate_charge(L, (uint64_t)n + (total >> CHARGE_BYTE_SHIFT));
	}
	return call_original(L);
}

static lua_Integer posrelat(lua_Integer pos, size_t len)
{
	if (pos >= 0)
		return pos;
	if ((size_t)-pos > len)
		return 0;
	return (lua_Integer)len + pos + 1;
}

/* string.byte(s, i, j), utf8.codepoint(s, i, j): one value pushed per byte */
static int safe_byte_range(lua_State *L)
{
	size_t l;
	luaL_checklstring(L, 1, &l);
	lua_Integer i = posrelat(luaL_optinteger(L, 2, 1), l);
	lua_Integer j = posrelat(luaL_optinteger(L, 3, i), l);
	isolate_charge(L, span(i, j));
	return call_original(L);
}

/* utf8.len, utf8.offset: a scan of the string */
static int safe_scan(lua_State *L)
{
	size_t l;
	luaL_checklstring(L, 1, &l);
	isolate_charge(L, l >> CHARGE_BYTE_SHIFT);
	return call_original(L);
}

/* string.find(s, needle [, init]): always a plain search (the fourth
 * argument is ignored): patterns are not offered, their backtracking has no
 * bound. memmem is linear (two-way) where a naive search is not. */
static int plain_find(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	lua_Integer init = posrelat(luaL_optinteger(L, 3, 1), ls);
	if (init < 1)
		init = 1;
	if ((size_t)init > ls + 1) {
		lua_pushnil(L);
		return 1;
	}
	isolate_charge(L, (ls + lp) >> CHARGE_BYTE_SHIFT);
	const char *at = memmem(s + init - 1, ls - (size_t)(init - 1), p, lp);
	if (!at) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushinteger(L, (lua_Integer)(at - s) + 1);
	lua_pushinteger(L, (lua_Integer)(at - s) + (lua_Integer)lp);
	return 2;
}

/* setmetatable: finalizers run with hooks off, outside any budget: refused */
static int safe_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed in policy scripts");
		lua_pop(L, 1);
	}
	return call_original(L);
}

static void wrap(lua_State *L, int table, const char *name, lua_CFunction fn)
{
	lua_getfield(L, table, name);
	lua_pushcclosure(L, fn, 1);
	lua_setfield(L, table, name);
}

static void drop(lua_State *L, int table, const char *const *names)
{
	for (; *names; names++) {
		lua_pushnil(L);
		lua_setfield(L, table, *names);
	}
}

static int open_safe(lua_State *L)
{
	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
		{ LUA_GNAME, luaopen_base },     { LUA_TABLIBNAME, luaopen_table },
		{ LUA_STRLIBNAME, luaopen_string }, { LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },  { LUA_COLIBNAME, luaopen_coroutine },
	};
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].open, 1);
		lua_pop(L, 1);
	}
	lua_pushglobaltable(L);
	int g = lua_gettop(L);
	static const char *const base_out[] = { "load", "loadfile", "dofile", "require", "collectgarbage",
						"print", "warn", NULL };
	drop(L, g, base_out);
	wrap(L, g, "setmetatable", safe_setmetatable);

	lua_getfield(L, g, LUA_STRLIBNAME);
	int s = lua_gettop(L);
	static const char *const string_out[] = { "match", "gmatch", "gsub", "dump", "pack", "unpack",
						  "packsize", NULL };
	drop(L, s, string_out);
	lua_pushcfunction(L, plain_find);
	lua_setfield(L, s, "find");
	wrap(L, s, "rep", safe_rep);
	wrap(L, s, "byte", safe_byte_range);
	lua_pop(L, 1);

	lua_getfield(L, g, LUA_TABLIBNAME);
	int t = lua_gettop(L);
	wrap(L, t, "sort", safe_sort);
	wrap(L, t, "insert", safe_shift);
	wrap(L, t, "remove", safe_shift);
	wrap(L, t, "concat", safe_concat);
	wrap(L, t, "unpack", safe_unpack);
	wrap(L, t, "move", safe_move);
	lua_pop(L, 1);

	lua_getfield(L, g, LUA_UTF8LIBNAME);
	int u = lua_gettop(L);
	wrap(L, u, "codepoint", safe_byte_range);
	wrap(L, u, "len", safe_scan);
	wrap(L, u, "offset", safe_scan);
	lua_pop(L, 1);
	lua_pop(L, 1); /* the global table */

	lua_pushliteral(L, "policy script stopped: over its budget");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &KILL_KEY);
	return 0;
}

struct isolate *isolate_new(const struct isolate_limits *lim)
{
	struct isolate *iso = calloc(1, sizeof(*iso));
	if (!iso)
		return NULL;
	iso->lim = *lim;
	iso->object_max = lim->mem_max / OBJECT_MAX_DIVISOR;
	iso->L = lua_newstate(iso_alloc, iso);
	if (!iso->L) {
		free(iso);
		return NULL;
	}
	lua_State *L = iso->L;
	lua_pushcfunction(L, open_safe);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		isolate_free(iso);
		return NULL;
	}
	lua_sethook(L, hook, LUA_MASKCOUNT, ISOLATE_HOOK_EVERY);
	return iso;
}

void isolate_free(struct isolate *iso)
{
	if (!iso)
		return;
	if (iso->L)
		lua_close(iso->L);
	free(iso);
}

lua_State *isolate_state(struct isolate *iso)
{
	return iso->L;
}

size_t isolate_mem_used(const struct isolate *iso)
{
	return iso->used;
}

uint64_t isolate_last_instr(const struct isolate *iso)
{
	return iso->last_instr;
}

const char *isolate_status_text(enum isolate_status st)
{
	switch (st) {
	case ISOLATE_OK:
		return "ok";
	case ISOLATE_ERROR:
		return "error";
	case ISOLATE_BUDGET:
		return "instruction budget exhausted";
	case ISOLATE_TIMEOUT:
		return "deadline passed";
	case ISOLATE_MEMORY:
		return "memory cap reached";
	}
	return "?";
}

static enum isolate_status run(struct isolate *iso, int nargs, int nresults, uint64_t instr_max,
			       uint64_t timeout_ns, char *err, size_t err_cap)
{
	lua_State *L = iso->L;
	iso->killed = ISOLATE_OK;
	iso->instr_used = 0;
	iso->instr_max = instr_max;
	iso->deadline_ns = 0;
	iso->timeout_ns = timeout_ns;
	if (iso->every_instr) {
		/* undo a kill's every-instruction hook (a kill in a coroutine
		 * reaches this state's main thread too: kill_call sets it there) */
		lua_sethook(L, hook, LUA_MASKCOUNT, ISOLATE_HOOK_EVERY);
		iso->every_instr = false;
	}
	iso->in_call = true;
	int rc = lua_pcall(L, nargs, nresults, 0);
	iso->in_call = false;
	iso->last_instr = iso->instr_used;
	enum isolate_status st = iso->killed    ? iso->killed
				 : rc == LUA_OK    ? ISOLATE_OK
				 : rc == LUA_ERRMEM ? ISOLATE_MEMORY
						    : ISOLATE_ERROR;
	if (st == ISOLATE_OK)
		return st;
	if (err && err_cap) {
		/* never luaL_tolstring: a __tostring would run outside any call */
		const char *msg = rc != LUA_OK && lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		if (st == ISOLATE_ERROR)
			snprintf(err, err_cap, "%s", msg ? msg : "error object is not a string");
		else
			snprintf(err, err_cap, "%s", isolate_status_text(st));
	}
	lua_pop(L, rc != LUA_OK ? 1 : nresults);
	return st;
}

enum isolate_status isolate_call(struct isolate *iso, int nargs, int nresults, char *err,
				 size_t err_cap)
{
	return run(iso, nargs, nresults, iso->lim.instr_max, (uint64_t)iso->lim.timeout_us * 1000u, err,
		   err_cap);
}

enum isolate_status isolate_load(struct isolate *iso, const char *src, size_t len,
				 const char *chunkname, char *err, size_t err_cap)
{
	lua_State *L = iso->L;
	/* mode "t": Lua has no bytecode verifier, a crafted binary chunk is memory unsafe */
	int rc = luaL_loadbufferx(L, src, len, chunkname, "t");
	if (rc != LUA_OK) {
		if (err && err_cap)
			snprintf(err, err_cap, "%s",
				 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "cannot load");
		lua_pop(L, 1);
		return rc == LUA_ERRMEM ? ISOLATE_MEMORY : ISOLATE_ERROR;
	}
	return run(iso, 0, 0, iso->lim.instr_max * ISOLATE_LOAD_FACTOR,
		   (uint64_t)iso->lim.timeout_us * 1000u * ISOLATE_LOAD_FACTOR, err, err_cap);
}

char *isolate_read_source(const char *path, size_t *len, char *err, size_t err_cap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* as big as the file says it is (not SCRIPT_SIZE_MAX: a 4 MiB buffer per
	 * load is an mmap and its page faults); one byte more tells a file that
	 * grew since, or a file whose size stat cannot tell */
	struct stat st;
	size_t cap = fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < SCRIPT_SIZE_MAX
			     ? (size_t)st.st_size + 1
			     : SCRIPT_SIZE_MAX;
	char *buf = malloc(cap);
	size_t n = buf ? fread(buf, 1, cap, f) : 0;
	if (buf && n == cap && cap < SCRIPT_SIZE_MAX) {
		/* it grew: read the rest up to the limit */
		char *big = realloc(buf, SCRIPT_SIZE_MAX);
		if (!big) {
			free(buf);
			buf = NULL;
		} else {
			buf = big;
			n += fread(buf + n, 1, SCRIPT_SIZE_MAX - n, f);
		}
	}
	bool too_big = buf && n == SCRIPT_SIZE_MAX;
	bool bad = !buf || ferror(f);
	fclose(f);
	if (bad || too_big) {
		snprintf(err, err_cap, "%s: %s", path,
			 too_big ? "larger than 4 MiB" : !buf ? "out of memory" : "read error");
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

enum isolate_status isolate_load_named(struct isolate *iso, const char *src, size_t len,
				       const char *path, char *err, size_t err_cap)
{
	size_t n = strlen(path) + 2;
	char *chunkname = malloc(n);
	if (!chunkname) {
		snprintf(err, err_cap, "%s: out of memory", path);
		return ISOLATE_ERROR;
	}
	snprintf(chunkname, n, "@%s", path); /* "@": Lua's messages then say "path:line:" */
	enum isolate_status st = isolate_load(iso, src, len, chunkname, err, err_cap);
	if (st != ISOLATE_OK && err_cap && strncmp(err, path, strlen(path)) != 0) {
		/* messages without a line (a binary chunk, a limit) still name the file */
		char why[256];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_cap, "%s: %s", path, why);
	}
	free(chunkname);
	return st;
}

enum isolate_status isolate_load_file(struct isolate *iso, const char *path, char *err,
				      size_t err_cap)
{
	size_t len;
	char *buf = isolate_read_source(path, &len, err, err_cap);
	if (!buf)
		return ISOLATE_ERROR;
	enum isolate_status st = isolate_load_named(iso, buf, len, path, err, err_cap);
	free(buf);
	return st;
}
