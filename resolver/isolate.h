/* resolver/isolate: a Lua 5.4 sandbox for one policy script in one worker.
 * It owns a lua_State made with tern's own allocator (a hard memory cap), runs
 * calls under an instruction budget and a wall-clock deadline, and offers only
 * the safe parts of the standard library: no I/O, no OS, no loading of code,
 * no debug, no pattern matching, no finalizers. A limit that trips kills the
 * call for good (every further instruction and allocation of that call fails),
 * so pcall, error handlers and coroutines cannot swallow it; the next call
 * starts afresh. It knows nothing of DNS: resolver/policy.c gives scripts
 * their API. Built only with Lua (configure --disable-isolate leaves it out). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lua_State;

struct isolate_limits {
	size_t mem_max;        /* bytes the Lua state may hold */
	uint64_t instr_max;    /* VM instructions per call (C work is charged too) */
	uint32_t timeout_us;   /* wall-clock per call */
};

/** How a call ended. */
enum isolate_status {
	ISOLATE_OK = 0,
	ISOLATE_ERROR,   /* the script raised an error (message in the isolate) */
	ISOLATE_BUDGET,  /* instruction budget exhausted */
	ISOLATE_TIMEOUT, /* wall-clock deadline passed */
	ISOLATE_MEMORY,  /* memory cap reached */
};

#define ISOLATE_HOST_SLACK (64 * 1024) /* host-side pushes between calls may exceed the cap by this */
#define ISOLATE_LOAD_FACTOR 1000 /* the top-level chunk runs with 1000x the per-call limits */

struct isolate;

/** A fresh isolate with the safe libraries. NULL when memory runs out. */
struct isolate *isolate_new(const struct isolate_limits *lim);
void isolate_free(struct isolate *iso);
/** The Lua state, for the host to register functions and push arguments. Host
 * pushes happen outside any call and may use the cap plus ISOLATE_HOST_SLACK. */
struct lua_State *isolate_state(struct isolate *iso);

/** Load @len bytes of source text (never bytecode) named @chunkname (e.g.
 * "@/etc/tern/policy.lua") and run its top level under ISOLATE_LOAD_FACTOR
 * times the limits. On failure, @err gets "file:line: what" and the status
 * says why. */
enum isolate_status isolate_load(struct isolate *iso, const char *src, size_t len,
				 const char *chunkname, char *err, size_t err_cap);
/** The text of the script at @path (malloc'd, for free()), its length in
 * *@len; NULL after writing "path: problem" to @err. */
char *isolate_read_source(const char *path, size_t *len, char *err, size_t err_cap);
/** isolate_load() of @src read from @path: messages say "path:line: what". */
enum isolate_status isolate_load_named(struct isolate *iso, const char *src, size_t len,
				       const char *path, char *err, size_t err_cap);
/** Load the file at @path as isolate_load() does. */
enum isolate_status isolate_load_file(struct isolate *iso, const char *path, char *err,
				      size_t err_cap);

/** Call the function below @nargs arguments on the stack, as lua_pcall would,
 * under the per-call limits. On ISOLATE_OK @nresults values are left on the
 * stack; otherwise nothing is, and @err (may be NULL) gets the reason. */
enum isolate_status isolate_call(struct isolate *iso, int nargs, int nresults, char *err,
				 size_t err_cap);

/** Charge @units instructions to the running call, from a host function that
 * does work proportional to its input. Raises (does not return) when the
 * budget is gone. Call it only from C functions the script calls. */
void isolate_charge(struct lua_State *L, uint64_t units);

/** Bytes the state holds now. */
size_t isolate_mem_used(const struct isolate *iso);
/** Instructions the last call used (in units of the hook interval). */
uint64_t isolate_last_instr(const struct isolate *iso);
/** Static text for a status. */
const char *isolate_status_text(enum isolate_status st);
