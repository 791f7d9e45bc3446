/* resolver/policy: the stages and the API scripts see; see policy.h and
 * man/tern-policy.7. The query is shown to a script as one userdata per
 * isolate, made once and pointed at the request for the length of a call:
 * reading q.name costs a string, not a table. Actions are small integers
 * (tern.pass() returns one), so the common cases allocate nothing. Name and
 * prefix sets are C objects (resolver/nameset.c, prefixset.c) loaded while the
 * script's top level runs, outside the per-query budget. */
#include "resolver/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/log.h"
#include "resolver/config.h"
#include "resolver/nameset.h"
#include "resolver/prefixset.h"
#include "resolver/request.h"
#include "resolver/rrset.h"
#include "resolver/worker.h"

#define EDE_BLOCKED 15    /* RFC 8914 4.16 */
#define EDE_PROHIBITED_ 18 /* RFC 8914 4.19 */
#define LOCAL_TTL_S 60    /* local answers, unless the script says otherwise */
#define LOCAL_RECORDS_MAX 32
#define TAGS_MAX 8
#define TAG_LEN_MAX 32
#define ERR_MAX 256

#ifdef TERN_ISOLATE

#include <lauxlib.h>
#include <lua.h>

#include "resolver/isolate.h"

enum action { ACT_PASS = 1, ACT_REFUSE, ACT_NXDOMAIN, ACT_NODATA, ACT_ANSWER, ACT_SERVFAIL, ACT_KEEP };

#define RULES_MAX 1024      /* tern.rule calls per script */
#define RULE_TYPES_MAX 16   /* types = {...} of one rule */

/* Which of the first RULE_MEMO_RULES rules' name sets cover a name, for the
 * names asked recently (most queries repeat a name: checking the sets again
 * costs a lowercase copy and a hash per label). Keyed by the wire form as
 * sent; set-associative like q.name's cache, so that a few names that
 * collide (clients choose names) only miss. */
#define RULE_MEMO_RULES 64
#define RULE_MEMO_SETS 256 /* a power of two */
#define RULE_MEMO_WAYS 4
#define RULE_MEMO_WIRE 48 /* names up to this long in wire form */
struct rule_memo_set {
	uint16_t tag[RULE_MEMO_WAYS];
	uint8_t wire_len[RULE_MEMO_WAYS]; /* 0: empty */
	uint8_t next;                     /* the way a miss replaces */
	uint64_t mask[RULE_MEMO_WAYS];    /* bit i: rule i's names cover it */
	uint8_t wire[RULE_MEMO_WAYS][RULE_MEMO_WIRE];
};
struct rule_memo {
	struct rule_memo_set set[RULE_MEMO_SETS];
};

/* A declarative rule (tern.rule): checked in C before on_query, in the order
 * the script registered them; the first whose every given condition holds
 * gives the action. The sets are owned by userdata that the script's
 * registry keeps alive (the "tern.rules" table) as long as the isolate. */
struct rule {
	const struct nameset *names;       /* NULL: any name */
	const struct prefixset *clients;   /* NULL: any client */
	int n_types;                       /* 0: any type */
	uint16_t types[RULE_TYPES_MAX];
	enum action action;                /* ACT_PASS, REFUSE, NXDOMAIN, NODATA, SERVFAIL, ANSWER */
	uint32_t ttl;                      /* of local records */
	int n_records;
	char **records;                    /* "TYPE DATA" texts, checked at load */
};

/* One script loaded in one isolate. */
struct script {
	struct isolate *iso;
	int on_query, on_answer; /* registry refs; LUA_NOREF when not defined */
	int q_ref;               /* the query userdata */
	struct qview *v;         /* its block (lives as long as the state: q_ref holds it) */
	bool loading;            /* its top level runs: tern.nameset may read files */
	char *path;              /* where it came from, for messages */
	char *src;               /* its text as loaded: a rebuild uses this, not the file */
	size_t src_len;
	int mem_failures;        /* calls in a row that ran out of memory */
	struct rule *rules;      /* tern.rule, in order */
	int n_rules;
	struct rule_memo *memo;  /* names matched by the first rules, for recent names */
};

/* An isolate whose calls keep running out of memory (a script that holds on
 * to what it allocates) is replaced by a new one from the same source. */
#define REBUILD_AFTER_MEM_FAILURES 3

/* A worker's policy: the default script and one per tenant (index 0..n-1
 * matches cfg->tenants). Replaced whole on reload. */
struct policy_set {
	struct script *dflt;
	struct script **tenants;
	int n_tenants;
};

/* What on_query decided that on_answer needs: lives in the request's arena,
 * found through the worker's table (struct request has no room for it). */
struct req_state {
	struct request *req;
	struct req_state *next;
	int tenant; /* -1: the default script */
	bool decided; /* on_query did not pass it on */
	int n_tags;
	char tags[TAGS_MAX][TAG_LEN_MAX + 1];
};

#define REQ_BUCKETS 256
#define HANDOFF_Q_MAX 512

/* The fast path's verdict for the query it hands over to the full path: the
 * script's results stay on its isolate's stack until policy_query_run() of
 * the same query (started at once) applies them. */
struct handoff {
	bool valid;
	int tenant;
	struct script *s;
	enum isolate_status status; /* ISOLATE_OK: the results are on s's stack */
	uint16_t q_len;
	socklen_t peer_len;
	struct sockaddr_storage peer;
	uint8_t q[HANDOFF_Q_MAX];
};

struct policy {
	struct policy_set *set;
	struct handoff handoff;
	uv_async_t reload_async;
	bool async_open;
	struct policy_stats stats;
	struct req_state *inflight[REQ_BUCKETS];
};

#define NAME_TEXT_CAP 1280 /* a wire name (255 bytes) in text, every byte escaped */
#define NAME_CACHE_SETS 128 /* q.name strings kept per isolate: sets (a power of two) */
#define NAME_CACHE_WAYS 4   /* of this many names each */
#define NAME_CACHE (NAME_CACHE_SETS * NAME_CACHE_WAYS)
#define NAME_CACHE_WIRE 48  /* of names up to this long in wire form */
#define QVIEW_UV_NAME 1     /* q's user value of an uncached q.name */
#define QVIEW_UV_CACHE 2    /* the first of NAME_CACHE user values */

/* The query as a script sees it, for the length of one call: one userdata
 * per isolate, pointed at the query by qview_bind() and made to read nil
 * after it. Nothing is built before the script asks: each field of q is made
 * by q_index() when read. The fast path binds it to the query bytes it has
 * checked (no request, no parse); the rest of the message (EDNS) is parsed
 * only when the script reads an EDNS field. */
struct qview {
	bool live;                  /* inside a call: outside, a kept q reads nil */
	const struct request *req;  /* the full path's request; NULL on the fast path */
	const struct req_state *st; /* tags; NULL on the fast path */
	const uint8_t *qname;       /* wire form, case as sent */
	uint16_t qtype, qclass, flags;
	const struct sockaddr *peer;
	const uint8_t *wire; /* fast path: the whole query, for a parse on demand */
	size_t wire_len;
	const struct msg *msg; /* the parsed query: the request's, or parsed on demand */
	size_t qname_len;    /* of the wire form */
	/* q.name as made in this call (anchored as a user value of the userdata,
	 * number name_uv): a set's covers() given this very string uses its
	 * label offsets */
	const char *name;
	size_t name_len;
	int name_uv;
	bool name_plain; /* no escapes: nameset_covers_canon() may take it */
	int n_labels;
	uint16_t label_at[NAMESET_LABELS_MAX];
	struct msg scratch;
	/* the strings of recent names (user values 2...): most queries ask for a
	 * name asked for before, whose q.name then costs a hash and a compare.
	 * Set-associative (a direct-mapped cache misses on every pair of names
	 * that collide); a miss replaces the ways of its set in turn. Only names
	 * without escapes are kept: their labels start in the text where their
	 * length bytes are in the wire form. */
	struct name_set {
		uint16_t tag[NAME_CACHE_WAYS];     /* hash bits, to skip most compares */
		uint8_t wire_len[NAME_CACHE_WAYS]; /* 0: empty */
		uint8_t next;                      /* the way a miss replaces */
		uint8_t wire[NAME_CACHE_WAYS][NAME_CACHE_WIRE];
	} cache[NAME_CACHE_SETS];
};

static const char QVIEW_MT[] = "tern.query";
static const char NAMESET_MT[] = "tern.nameset";
static const char PREFIXSET_MT[] = "tern.prefixset";

/* ---- presentation helpers ---- */

static const struct {
	uint16_t code;
	const char *name;
} types[] = {
	{ 1, "A" },      { 2, "NS" },     { 5, "CNAME" },  { 6, "SOA" },   { 12, "PTR" },
	{ 15, "MX" },    { 16, "TXT" },   { 28, "AAAA" },  { 33, "SRV" },  { 35, "NAPTR" },
	{ 43, "DS" },    { 46, "RRSIG" }, { 47, "NSEC" },  { 48, "DNSKEY" }, { 50, "NSEC3" },
	{ 52, "TLSA" },  { 64, "SVCB" },  { 65, "HTTPS" }, { 99, "SPF" },  { 255, "ANY" },
	{ 257, "CAA" },
};

static const char *type_name(uint16_t t, char buf[16])
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].code == t)
			return types[i].name;
	snprintf(buf, 16, "TYPE%u", t);
	return buf;
}

static int type_code(const char *s)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(types[i].name, s) == 0)
			return types[i].code;
	return -1;
}

static const char *rcode_name(uint8_t rc)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					     "NOTIMP",  "REFUSED" };
	return rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "OTHER";
}

/* Lowercase presentation form without the final dot ("." for the root). */
static size_t name_text(const uint8_t *name, char *out, size_t cap)
{
	size_t o = 0;
	if (*name == 0) {
		out[0] = '.';
		out[1] = '\0';
		return 1;
	}
	while (*name) {
		uint8_t l = *name++;
		if (o && o + 1 < cap)
			out[o++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = name[i];
			if (o + 5 >= cap)
				break;
			if (c >= 'A' && c <= 'Z')
				out[o++] = (char)(c + 32);
			else if (c <= ' ' || c >= 0x7f)
				o += (size_t)snprintf(out + o, cap - o, "\\%03u", c);
			else if (c == '.' || c == '\\')
				out[o++] = '\\', out[o++] = (char)c;
			else
				out[o++] = (char)c;
		}
		name += l;
	}
	out[o] = '\0';
	return o;
}

static const char *transport_name(const struct request *req)
{
	if (req->tx && req->tx->name)
		return req->tx->name;
	return req->is_tcp ? "tcp" : "udp";
}

static void push_addr(lua_State *L, const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];
	const void *a = NULL;
	int fam = sa->sa_family;
	if (fam == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (fam == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(b, mapped, 12) == 0) {
			fam = AF_INET;
			a = b + 12;
		} else {
			a = b;
		}
	}
	if (a && inet_ntop(fam, a, buf, sizeof(buf)))
		lua_pushstring(L, buf);
	else
		lua_pushnil(L);
}

/* ---- the q userdata ---- */

static void qview_bind(struct qview *v, const struct request *req, const struct req_state *st)
{
	v->live = true;
	v->req = req;
	v->st = st;
	v->qname = req->q.qname;
	v->qname_len = name_len(req->q.qname);
	v->qtype = req->q.qtype;
	v->qclass = req->q.qclass;
	v->flags = req->q.hdr.flags;
	v->peer = (const struct sockaddr *)&req->peer;
	v->wire = NULL;
	v->msg = &req->q;
	v->name = NULL;
}

static void qview_unbind(struct qview *v)
{
	v->live = false;
	v->req = NULL;
	v->st = NULL;
	v->msg = NULL;
	v->name = NULL;
}

/* The message, parsed on the fast path only when a field needs it. */
static const struct msg *qview_msg(struct qview *v)
{
	if (!v->msg && v->wire && msg_parse(&v->scratch, v->wire, v->wire_len, NULL) == 0)
		v->msg = &v->scratch;
	return v->msg;
}

/* A byte of a name as it appears in text, lowercased; 0 when it is escaped
 * ('.', '\\', and bytes outside printable ASCII). */
static uint8_t text_byte[256];
static pthread_once_t text_byte_once = PTHREAD_ONCE_INIT;

static void text_byte_init(void)
{
	for (int c = '!'; c < 0x7f; c++)
		text_byte[c] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	text_byte['.'] = 0;
	text_byte['\\'] = 0;
}

/* q.name: lowercase text without the final dot ("." for the root), RFC 1035
 * escapes for '.', '\' and bytes outside printable ASCII. Records where each
 * label starts, and whether any byte was escaped. */
static size_t qname_text(struct qview *v, char *out)
{
	const uint8_t *name = v->qname;
	size_t o = 0;
	int k = 0;
	bool plain = true;
	if (*name == 0) {
		out[0] = '.';
		v->n_labels = 0;
		v->name_plain = false;
		return 1;
	}
	while (*name && o + 4 * 64 + 1 < NAME_TEXT_CAP) {
		uint8_t l = *name++;
		if (o)
			out[o++] = '.';
		if (k < NAMESET_LABELS_MAX)
			v->label_at[k++] = (uint16_t)o;
		for (const uint8_t *end = name + l; name < end; name++) {
			uint8_t c = *name;
			if (text_byte[c]) {
				out[o++] = (char)text_byte[c];
			} else {
				plain = false;
				out[o++] = '\\';
				if (c == '.' || c == '\\') {
					out[o++] = (char)c;
				} else {
					out[o++] = (char)('0' + c / 100);
					out[o++] = (char)('0' + c / 10 % 10);
					out[o++] = (char)('0' + c % 10);
				}
			}
		}
	}
	v->n_labels = k;
	v->name_plain = plain;
	return o;
}

static uint32_t wire_hash(const uint8_t *p, size_t n)
{
	uint64_t h = n * 0x9e3779b97f4a7c15ull;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		h = (h ^ x) * 0xff51afd7ed558ccdull;
	}
	if (n) {
		uint64_t x = 0;
		memcpy(&x, p, n);
		h = (h ^ x) * 0xff51afd7ed558ccdull;
	}
	return (uint32_t)(h >> 32);
}

/* Label starts of a plain name @wire (in the text they are where the length
 * bytes are in the wire form). */
static void plain_labels(struct qview *v, const uint8_t *wire)
{
	int k = 0;
	for (size_t at = 0; wire[at] && k < NAMESET_LABELS_MAX; at += 1u + wire[at])
		v->label_at[k++] = (uint16_t)at;
	v->n_labels = k;
	v->name_plain = true;
}

/* Push q.name (argument 1 is q). A name that collides with others in the
 * cache (clients choose names) only misses it. */
static void push_name(lua_State *L, struct qview *v)
{
	if (v->name) {
		lua_getiuservalue(L, 1, v->name_uv);
		return;
	}
	size_t wl = v->qname_len;
	struct name_set *set = NULL;
	uint16_t tag = 0;
	if (wl <= NAME_CACHE_WIRE) {
		uint32_t h = wire_hash(v->qname, wl);
		set = &v->cache[h & (NAME_CACHE_SETS - 1)];
		tag = (uint16_t)(h >> 16);
		for (int i = 0; i < NAME_CACHE_WAYS; i++) {
			if (set->tag[i] != tag || set->wire_len[i] != wl ||
			    memcmp(set->wire[i], v->qname, wl) != 0)
				continue;
			int uv = QVIEW_UV_CACHE + (int)(set - v->cache) * NAME_CACHE_WAYS + i;
			lua_getiuservalue(L, 1, uv);
			v->name = lua_tolstring(L, -1, &v->name_len);
			v->name_uv = uv;
			plain_labels(v, set->wire[i]);
			return;
		}
	}
	char buf[NAME_TEXT_CAP];
	size_t n = qname_text(v, buf);
	lua_pushlstring(L, buf, n);
	lua_pushvalue(L, -1);
	int uv = QVIEW_UV_NAME, way = 0;
	if (set && v->name_plain && v->n_labels < NAMESET_LABELS_MAX) {
		way = set->next;
		set->next = (uint8_t)((way + 1) % NAME_CACHE_WAYS);
		uv = QVIEW_UV_CACHE + (int)(set - v->cache) * NAME_CACHE_WAYS + way;
	} else {
		set = NULL;
	}
	lua_setiuservalue(L, 1, uv); /* alive while v->name points into it */
	v->name = lua_tostring(L, -1);
	v->name_len = n;
	v->name_uv = uv;
	if (set) {
		set->tag[way] = tag;
		set->wire_len[way] = (uint8_t)wl;
		memcpy(set->wire[way], v->qname, wl);
	}
}

static int q_index(lua_State *L)
{
	/* only ever the __index of QVIEW_MT, which scripts cannot reach (its
	 * __metatable hides it): argument 1 is a qview, no check needed */
	struct qview *v = lua_touserdata(L, 1);
	size_t kl;
	const char *k = lua_tolstring(L, 2, &kl);
	if (!v->live || !k) {
		lua_pushnil(L); /* a q kept past its call, or a key not a name */
		return 1;
	}
	char buf[NAME_TEXT_CAP];
#define KEY(lit) (kl == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)
	if (KEY("name")) {
		push_name(L, v);
	} else if (KEY("type")) {
		lua_pushstring(L, type_name(v->qtype, buf));
	} else if (KEY("qtype")) {
		lua_pushinteger(L, v->qtype);
	} else if (KEY("class")) {
		lua_pushstring(L, v->qclass == CLASS_IN ? "IN" : "OTHER");
	} else if (KEY("client")) {
		push_addr(L, v->peer);
	} else if (KEY("transport")) {
		lua_pushstring(L, v->req ? transport_name(v->req) : "udp");
	} else if (KEY("path")) {
		const struct request *req = v->req;
		const char *path = req && req->tx && req->tx->path ? req->tx->path(req) : NULL;
		if (path)
			lua_pushstring(L, path);
		else
			lua_pushnil(L);
	} else if (KEY("labels")) {
		lua_createtable(L, 4, 0);
		const uint8_t *p = v->qname;
		int i = 0;
		char lb[64 * 4 + 1];
		while (*p) {
			uint8_t one[64 + 1];
			one[0] = *p;
			memcpy(one + 1, p + 1, *p);
			one[*p + 1] = 0;
			size_t n = name_text(one, lb, sizeof(lb));
			lua_pushlstring(L, lb, n);
			lua_rawseti(L, -2, ++i);
			p += *p + 1;
		}
	} else if (KEY("edns")) {
		const struct msg *q = qview_msg(v);
		lua_pushboolean(L, q && q->has_opt);
	} else if (KEY("dnssec_ok")) {
		const struct msg *q = qview_msg(v);
		lua_pushboolean(L, q && q->has_opt && (q->edns_flags & EDNS_FLAG_DO));
	} else if (KEY("edns_size")) {
		const struct msg *q = qview_msg(v);
		if (q && q->has_opt)
			lua_pushinteger(L, q->edns_udp_size);
		else
			lua_pushnil(L);
	} else if (KEY("rd")) {
		lua_pushboolean(L, v->flags & FLAG_RD);
	} else if (KEY("cd")) {
		lua_pushboolean(L, v->flags & FLAG_CD);
	} else if (KEY("tags")) {
		lua_createtable(L, 0, v->st ? v->st->n_tags : 0);
		for (int i = 0; v->st && i < v->st->n_tags; i++) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, v->st->tags[i]);
		}
	} else {
		lua_pushnil(L);
	}
#undef KEY
	return 1;
}

/* ---- tern.* ---- */

static int act(lua_State *L, enum action a)
{
	lua_pushinteger(L, a);
	lua_insert(L, 1);
	return lua_gettop(L); /* the action, then whatever the script passed */
}

static int t_pass(lua_State *L)
{
	if (lua_gettop(L) == 0) { /* the common case: no tags */
		lua_pushinteger(L, ACT_PASS);
		return 1;
	}
	return act(L, ACT_PASS);
}
static int t_refuse(lua_State *L)
{
	lua_settop(L, 0);
	return act(L, ACT_REFUSE);
}
static int t_nxdomain(lua_State *L)
{
	lua_settop(L, 0);
	return act(L, ACT_NXDOMAIN);
}
static int t_nodata(lua_State *L)
{
	lua_settop(L, 0);
	return act(L, ACT_NODATA);
}
static int t_servfail(lua_State *L)
{
	lua_settop(L, 0);
	return act(L, ACT_SERVFAIL);
}
static int t_answer(lua_State *L)
{
	luaL_checkany(L, 1);
	return act(L, ACT_ANSWER);
}
static int t_keep(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	return act(L, ACT_KEEP);
}

/* A name set as scripts hold it. The magic lets the per-query methods check
 * their argument without luaL_checkudata's registry lookup: no other
 * userdata has this size (a qview is larger, a prefix set smaller). */
#define NAMESET_MAGIC 0x6e616d6573657431ull
struct nameset_ud {
	uint64_t magic;
	struct nameset *ns;
};

static struct nameset_ud *new_nameset_ud(lua_State *L)
{
	struct nameset_ud *u = lua_newuserdatauv(L, sizeof(*u), 0);
	u->magic = NAMESET_MAGIC;
	u->ns = NULL;
	luaL_setmetatable(L, NAMESET_MT);
	return u;
}

static struct nameset *check_nameset(lua_State *L)
{
	if (lua_type(L, 1) == LUA_TUSERDATA && lua_rawlen(L, 1) == sizeof(struct nameset_ud)) {
		const struct nameset_ud *u = lua_touserdata(L, 1);
		if (u->magic == NAMESET_MAGIC)
			return u->ns;
	}
	return ((struct nameset_ud *)luaL_checkudata(L, 1, NAMESET_MT))->ns; /* raises */
}

/* tern.nameset(path): load time only (a file read, not a per-query cost);
 * tern.nameset{names...} is tern.names */
static int t_names(lua_State *L);

static int t_nameset(lua_State *L)
{
	if (lua_type(L, 1) == LUA_TTABLE)
		return t_names(L); /* tern.nameset{"a.example", ...} */
	const char *path = luaL_checkstring(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, "tern.script");
	const struct script *s = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!s || !s->loading)
		return luaL_error(L, "tern.nameset: only at load time (the top level of the script)");
	struct nameset_ud *ud = new_nameset_ud(L);
	char err[ERR_MAX];
	ud->ns = nameset_open(path, err, sizeof(err));
	if (!ud->ns)
		return luaL_error(L, "tern.nameset: %s", err);
	return 1;
}

/* tern.names{...}: a set from a list of names, at load time */
static int t_names(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct nameset_ud *ud = new_nameset_ud(L);
	ud->ns = nameset_new();
	if (!ud->ns)
		return luaL_error(L, "tern.names: out of memory");
	lua_Integer n = luaL_len(L, 1);
	isolate_charge(L, (uint64_t)(n > 0 ? n : 0) * 16);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 1, i);
		size_t len;
		const char *s = luaL_checklstring(L, -1, &len);
		if (nameset_add(ud->ns, s, len) < 0)
			return luaL_error(L, "tern.names: '%s' is not a domain name", s);
		lua_pop(L, 1);
	}
	return 1;
}

static int nameset_gc(lua_State *L)
{
	struct nameset_ud *ud = luaL_checkudata(L, 1, NAMESET_MT);
	nameset_close(ud->ns);
	ud->ns = NULL;
	return 0;
}

/* set:covers(name): a closure over the isolate's qview (upvalue 1), so that
 * covers(q.name) skips the checks and the copy of a name made from the wire */
static int nameset_covers_l(lua_State *L)
{
	struct nameset *ns = check_nameset(L);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	const struct qview *v = lua_touserdata(L, lua_upvalueindex(1));
	bool yes;
	if (!ns)
		yes = false;
	else if (s == v->name && v->name_plain)
		yes = nameset_covers_canon(ns, s, len, v->label_at, v->n_labels);
	else
		yes = nameset_covers(ns, s, len);
	lua_pushboolean(L, yes);
	return 1;
}

static int nameset_has_l(lua_State *L)
{
	struct nameset *ns = check_nameset(L);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	lua_pushboolean(L, ns && nameset_has(ns, s, len));
	return 1;
}

static int nameset_len_l(lua_State *L)
{
	struct nameset *ns = check_nameset(L);
	lua_pushinteger(L, ns ? (lua_Integer)nameset_count(ns) : 0);
	return 1;
}

/* tern.prefixset{"10.0.0.0/8", ...} */
static int t_prefixset(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct prefixset **ud = lua_newuserdatauv(L, sizeof(*ud), 0);
	*ud = prefixset_new();
	luaL_setmetatable(L, PREFIXSET_MT);
	if (!*ud)
		return luaL_error(L, "tern.prefixset: out of memory");
	lua_Integer n = luaL_len(L, 1);
	isolate_charge(L, (uint64_t)(n > 0 ? n : 0) * 16);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 1, i);
		const char *s = luaL_checkstring(L, -1);
		if (prefixset_add(*ud, s) < 0)
			return luaL_error(L, "tern.prefixset: '%s' is not ADDR or ADDR/BITS", s);
		lua_pop(L, 1);
	}
	return 1;
}

static int prefixset_gc(lua_State *L)
{
	struct prefixset **ud = luaL_checkudata(L, 1, PREFIXSET_MT);
	prefixset_free(*ud);
	*ud = NULL;
	return 0;
}

static int prefixset_covers_l(lua_State *L)
{
	struct prefixset **ud = luaL_checkudata(L, 1, PREFIXSET_MT);
	const char *s = luaL_checkstring(L, 2);
	lua_pushboolean(L, *ud && prefixset_covers_text(*ud, s));
	return 1;
}

/* tern.is_private(addr): addresses that must not appear in public answers
 * (DNS rebinding): RFC 1918, loopback, link-local, CGNAT, ULA, unspecified */
static int t_is_private(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	uint8_t a[16];
	bool priv = false;
	if (inet_pton(AF_INET, s, a) == 1) {
		priv = a[0] == 10 || a[0] == 127 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		       (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
		       (a[0] == 100 && (a[1] & 0xc0) == 64);
	} else if (inet_pton(AF_INET6, s, a) == 1) {
		static const uint8_t zero[15] = { 0 };
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(a, mapped, 12) == 0) {
			uint8_t *b = a + 12;
			priv = b[0] == 10 || b[0] == 127 || b[0] == 0 ||
			       (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
			       (b[0] == 169 && b[1] == 254);
		} else {
			priv = (memcmp(a, zero, 15) == 0 && a[15] <= 1) || (a[0] & 0xfe) == 0xfc ||
			       (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
		}
	} else {
		return luaL_error(L, "tern.is_private: '%s' is not an address", s);
	}
	lua_pushboolean(L, priv);
	return 1;
}

/* tern.covers(name, suffix): name is suffix or below it */
static int t_is_under(lua_State *L)
{
	size_t ln, ls;
	const char *n = luaL_checklstring(L, 1, &ln);
	const char *s = luaL_checklstring(L, 2, &ls);
	while (ls && s[ls - 1] == '.')
		ls--;
	while (ln && n[ln - 1] == '.')
		ln--;
	bool yes = ls == 0 || (ln >= ls && strncasecmp(n + ln - ls, s, ls) == 0 &&
			       (ln == ls || n[ln - ls - 1] == '.'));
	lua_pushboolean(L, yes);
	return 1;
}

/* ---- tern.rule: declarative rules, checked in C ---- */

static int parse_record(const char *text, const uint8_t *qname, uint8_t *rd, uint16_t *rdlen);

static struct script *loading_script(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "tern.script");
	struct script *s = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return s && s->loading ? s : NULL;
}

/* Keep the value at the top of the stack alive as long as the isolate: the
 * rule holds a C pointer into it. Pops it. */
static void anchor(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, "tern.rules") != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, "tern.rules");
	}
	lua_insert(L, -2);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	lua_pop(L, 1);
}

/* rule.names: a name set, or a list of names made into one */
static const struct nameset *rule_names(lua_State *L, int at)
{
	if (lua_type(L, at) == LUA_TTABLE) {
		lua_pushcfunction(L, t_names);
		lua_pushvalue(L, at);
		if (lua_pcall(L, 1, 1, 0) != LUA_OK) /* raised again: at the script's line */
			luaL_error(L, "tern.rule: %s", lua_tostring(L, -1));
	} else if (luaL_testudata(L, at, NAMESET_MT)) {
		lua_pushvalue(L, at);
	} else {
		luaL_error(L, "tern.rule: names must be a tern.nameset or a list of names");
	}
	const struct nameset_ud *u = lua_touserdata(L, -1);
	const struct nameset *ns = u->ns;
	anchor(L);
	return ns;
}

/* rule.clients: a prefix set, or a list of prefixes made into one */
static const struct prefixset *rule_clients(lua_State *L, int at)
{
	if (lua_type(L, at) == LUA_TTABLE) {
		lua_pushcfunction(L, t_prefixset);
		lua_pushvalue(L, at);
		if (lua_pcall(L, 1, 1, 0) != LUA_OK) /* raised again: at the script's line */
			luaL_error(L, "tern.rule: %s", lua_tostring(L, -1));
	} else if (luaL_testudata(L, at, PREFIXSET_MT)) {
		lua_pushvalue(L, at);
	} else {
		luaL_error(L, "tern.rule: clients must be a tern.prefixset or a list of prefixes");
	}
	struct prefixset *const *u = lua_touserdata(L, -1);
	const struct prefixset *ps = *u;
	anchor(L);
	return ps;
}

static int rule_type(lua_State *L)
{
	if (lua_isinteger(L, -1)) {
		lua_Integer t = lua_tointeger(L, -1);
		if (t >= 0 && t <= 65535)
			return (int)t;
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		const char *t = lua_tostring(L, -1);
		int code = type_code(t);
		if (code >= 0)
			return code;
		char *end;
		if (strncasecmp(t, "TYPE", 4) == 0 && t[4] >= '0' && t[4] <= '9') {
			unsigned long n = strtoul(t + 4, &end, 10);
			if (!*end && n <= 65535)
				return (int)n;
		}
	}
	if (lua_type(L, -1) == LUA_TSTRING)
		return luaL_error(L, "tern.rule: types: '%s' is not a record type",
				  lua_tostring(L, -1));
	return luaL_error(L, "tern.rule: types: a %s is not a record type", luaL_typename(L, -1));
}

/* tern.rule{ names =, types =, clients =, action =, answer =, ttl = } at
 * load time: checked here, kept in C, matched per query without Lua. */
static int t_rule(lua_State *L)
{
	struct script *s = loading_script(L);
	if (!s)
		return luaL_error(L, "tern.rule: only at load time (the top level of the script)");
	luaL_checktype(L, 1, LUA_TTABLE);
	if (s->n_rules >= RULES_MAX)
		return luaL_error(L, "tern.rule: more than %d rules", RULES_MAX);
	/* every key must be known: a misspelt condition would match everything */
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		lua_pop(L, 1);
		static const char *const keys[] = { "names", "types", "clients", "action",
						    "answer", "ttl", NULL };
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		int i = 0;
		while (k && keys[i] && strcmp(keys[i], k) != 0)
			i++;
		if (!k || !keys[i])
			return luaL_error(L, "tern.rule: unknown field '%s' (names, types, clients, "
					  "action, answer, ttl)", k ? k : luaL_typename(L, -1));
	}
	struct rule r = { 0 };
	r.ttl = LOCAL_TTL_S;
	if (lua_getfield(L, 1, "names") != LUA_TNIL)
		r.names = rule_names(L, lua_gettop(L));
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "clients") != LUA_TNIL)
		r.clients = rule_clients(L, lua_gettop(L));
	lua_pop(L, 1);
	int t = lua_getfield(L, 1, "types");
	if (t == LUA_TSTRING || t == LUA_TNUMBER) {
		r.types[r.n_types++] = (uint16_t)rule_type(L);
	} else if (t == LUA_TTABLE) {
		lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
		if (n < 1 || n > RULE_TYPES_MAX)
			return luaL_error(L, "tern.rule: types: 1 to %d types", RULE_TYPES_MAX);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, i);
			r.types[r.n_types++] = (uint16_t)rule_type(L);
			lua_pop(L, 1);
		}
	} else if (t != LUA_TNIL) {
		return luaL_error(L, "tern.rule: types must be a type or a list of types");
	}
	lua_pop(L, 1);
	/* the records of an answer: checked now, parsed again when used */
	const char *recs[LOCAL_RECORDS_MAX];
	t = lua_getfield(L, 1, "answer");
	int at = lua_gettop(L);
	if (t == LUA_TSTRING) {
		recs[r.n_records++] = lua_tostring(L, at);
	} else if (t == LUA_TTABLE) {
		lua_Integer n = (lua_Integer)lua_rawlen(L, at);
		if (n < 1 || n > LOCAL_RECORDS_MAX)
			return luaL_error(L, "tern.rule: answer: 1 to %d records", LOCAL_RECORDS_MAX);
		for (lua_Integer i = 1; i <= n; i++) {
			if (lua_rawgeti(L, at, i) != LUA_TSTRING)
				return luaL_error(L, "tern.rule: answer: record %d is not a string",
						  (int)i);
			recs[r.n_records++] = lua_tostring(L, -1); /* the table keeps it */
			lua_pop(L, 1);
		}
	} else if (t != LUA_TNIL) {
		return luaL_error(L, "tern.rule: answer must be a record or a list of records");
	}
	for (int i = 0; i < r.n_records; i++) {
		uint8_t rd[NAME_MAX_WIRE + 1];
		uint16_t rdlen;
		if (parse_record(recs[i], NULL, rd, &rdlen) < 0)
			return luaL_error(L, "tern.rule: answer: '%s' is not a record tern can make "
					  "(A, AAAA, CNAME, PTR, TXT)", recs[i]);
	}
	if (lua_getfield(L, 1, "ttl") != LUA_TNIL) {
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 ||
		    lua_tointeger(L, -1) > 86400)
			return luaL_error(L, "tern.rule: ttl must be an integer from 0 to 86400");
		if (!r.n_records)
			return luaL_error(L, "tern.rule: ttl without answer");
		r.ttl = (uint32_t)lua_tointeger(L, -1);
	}
	lua_pop(L, 1);
	t = lua_getfield(L, 1, "action");
	if (t == LUA_TNIL) {
		if (!r.n_records)
			return luaL_error(L, "tern.rule: needs an action (tern.pass(), tern.refuse(), "
					  "tern.nxdomain(), tern.nodata(), tern.servfail()) or an answer");
		r.action = ACT_ANSWER;
	} else {
		lua_Integer a = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (a != ACT_PASS && a != ACT_REFUSE && a != ACT_NXDOMAIN && a != ACT_NODATA &&
		    a != ACT_SERVFAIL && a != ACT_ANSWER)
			return luaL_error(L, "tern.rule: action must be tern.pass(), tern.refuse(), "
					  "tern.nxdomain(), tern.nodata() or tern.servfail()");
		if (a == ACT_ANSWER && !r.n_records)
			return luaL_error(L, "tern.rule: tern.answer() here: give the records as "
					  "answer = {...}");
		if (a != ACT_ANSWER && r.n_records)
			return luaL_error(L, "tern.rule: answer with an action other than an answer");
		r.action = (enum action)a;
	}
	lua_pop(L, 1);
	/* no Lua call from here until it is kept: nothing raises past an allocation */
	struct rule *rules = realloc(s->rules, (size_t)(s->n_rules + 1) * sizeof(*rules));
	if (!rules)
		return luaL_error(L, "tern.rule: out of memory");
	s->rules = rules;
	if (r.n_records) {
		r.records = calloc((size_t)r.n_records, sizeof(*r.records));
		for (int i = 0; r.records && i < r.n_records; i++) {
			if (!(r.records[i] = strdup(recs[i]))) {
				while (i--)
					free(r.records[i]);
				free(r.records);
				r.records = NULL;
			}
		}
		if (!r.records)
			return luaL_error(L, "tern.rule: out of memory");
	}
	s->rules[s->n_rules++] = r;
	return 0;
}

static void rules_free(struct script *s)
{
	for (int i = 0; i < s->n_rules; i++) {
		for (int j = 0; j < s->rules[i].n_records; j++)
			free(s->rules[i].records[j]);
		free(s->rules[i].records);
	}
	free(s->rules);
	free(s->memo);
	s->rules = NULL;
	s->memo = NULL;
	s->n_rules = 0;
}

/* The query as rules see it: its name is made canonical text (lowercase,
 * no final dot, label starts) once, when a rule with names first asks. */
struct rule_query {
	const uint8_t *qname; /* wire form, checked */
	size_t qname_len;
	uint16_t qtype;
	const struct sockaddr *peer;
	int canon; /* 0: not made yet; 1: text/at/k hold it; -1: needs escapes */
	int k;
	size_t len;
	uint16_t at[NAMESET_LABELS_MAX];
	char text[NAME_MAX_WIRE];
};

/* The wire name as nameset_covers_canon() takes it: each length byte becomes
 * a dot, each byte lowercased; a name with a byte that text escapes (rare)
 * is left to nameset_covers(). */
static int rule_canon(struct rule_query *rq)
{
	const uint8_t *p = rq->qname;
	size_t o = 0;
	int k = 0;
	if (!*p)
		return -1; /* the root: in no set */
	while (*p) {
		uint8_t l = *p++;
		if (k == NAMESET_LABELS_MAX)
			return -1;
		if (o)
			rq->text[o++] = '.';
		rq->at[k++] = (uint16_t)o;
		for (const uint8_t *end = p + l; p < end; p++) {
			uint8_t c = text_byte[*p];
			if (!c)
				return -1;
			rq->text[o++] = (char)c;
		}
	}
	rq->len = o;
	rq->k = k;
	return 1;
}

static bool rule_names_cover(const struct nameset *ns, struct rule_query *rq)
{
	if (!ns)
		return false;
	if (!rq->canon)
		rq->canon = rule_canon(rq);
	if (rq->canon > 0)
		return nameset_covers_canon(ns, rq->text, rq->len, rq->at, rq->k);
	char buf[NAME_TEXT_CAP];
	size_t n = name_text(rq->qname, buf, sizeof(buf));
	return nameset_covers(ns, buf, n);
}

static uint32_t wire_hash(const uint8_t *p, size_t n);

/* Bit i: the names of rule i (of the first RULE_MEMO_RULES) cover the name. */
static uint64_t names_mask(const struct script *s, struct rule_query *rq)
{
	struct rule_memo *m = s->memo;
	size_t wl = rq->qname_len;
	uint16_t tag = 0;
	int way = -1;
	struct rule_memo_set *set = NULL;
	if (m && wl <= RULE_MEMO_WIRE) {
		uint32_t h = wire_hash(rq->qname, wl);
		set = &m->set[h & (RULE_MEMO_SETS - 1)];
		tag = (uint16_t)(h >> 16);
		for (int i = 0; i < RULE_MEMO_WAYS; i++)
			if (set->tag[i] == tag && set->wire_len[i] == wl &&
			    memcmp(set->wire[i], rq->qname, wl) == 0)
				return set->mask[i];
	}
	uint64_t mask = 0;
	int n = s->n_rules < RULE_MEMO_RULES ? s->n_rules : RULE_MEMO_RULES;
	for (int i = 0; i < n; i++)
		if (s->rules[i].names && rule_names_cover(s->rules[i].names, rq))
			mask |= 1ull << i;
	if (set) {
		way = set->next;
		set->next = (uint8_t)((way + 1) % RULE_MEMO_WAYS);
		set->tag[way] = tag;
		set->wire_len[way] = (uint8_t)wl;
		set->mask[way] = mask;
		memcpy(set->wire[way], rq->qname, wl);
	}
	return mask;
}

/* The first rule of @s that matches, or NULL. */
static const struct rule *rules_match(const struct script *s, const uint8_t *qname,
				      size_t qname_len, uint16_t qtype, const struct sockaddr *peer)
{
	struct rule_query rq;
	rq.qname = qname;
	rq.qname_len = qname_len;
	rq.qtype = qtype;
	rq.peer = peer;
	rq.canon = 0;
	uint64_t mask = 0;
	bool have_mask = false;
	for (int i = 0; i < s->n_rules; i++) {
		const struct rule *r = &s->rules[i];
		if (r->n_types) {
			int j = 0;
			while (j < r->n_types && r->types[j] != qtype)
				j++;
			if (j == r->n_types)
				continue;
		}
		if (r->clients && !prefixset_covers(r->clients, peer))
			continue;
		if (r->names) {
			if (i >= RULE_MEMO_RULES) {
				if (!rule_names_cover(r->names, &rq))
					continue;
			} else {
				if (!have_mask) {
					mask = names_mask(s, &rq);
					have_mask = true;
				}
				if (!(mask & (1ull << i)))
					continue;
			}
		}
		return r;
	}
	return NULL;
}

static int open_tern(lua_State *L)
{
	pthread_once(&text_byte_once, text_byte_init);
	static const luaL_Reg fns[] = {
		{ "pass", t_pass },         { "refuse", t_refuse },       { "nxdomain", t_nxdomain },
		{ "nodata", t_nodata },     { "servfail", t_servfail },   { "answer", t_answer },
		{ "keep", t_keep },         { "nameset", t_nameset },     { "names", t_names },
		{ "prefixset", t_prefixset }, { "is_private", t_is_private }, { "is_under", t_is_under },
		{ "rule", t_rule },         { NULL, NULL },
	};
	luaL_newlib(L, fns);
	lua_setglobal(L, "tern");

	luaL_newmetatable(L, QVIEW_MT);
	lua_pushcfunction(L, q_index);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "query");
	lua_setfield(L, -2, "__metatable"); /* getmetatable(q) cannot reach the C functions */
	lua_pop(L, 1);

	/* q: one per isolate, bound to each query in turn; user value 1 holds q.name */
	struct qview *v = lua_newuserdatauv(L, sizeof(*v), QVIEW_UV_CACHE + NAME_CACHE - 1);
	memset(v, 0, sizeof(*v));
	luaL_setmetatable(L, QVIEW_MT);
	int q_at = lua_gettop(L);

	luaL_newmetatable(L, NAMESET_MT);
	lua_createtable(L, 0, 2);
	lua_pushlightuserdata(L, v); /* the qview lives as long as the state: q_ref holds it */
	lua_pushcclosure(L, nameset_covers_l, 1);
	lua_setfield(L, -2, "covers");
	lua_pushcfunction(L, nameset_has_l);
	lua_setfield(L, -2, "has");
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, nameset_gc);
	lua_setfield(L, -2, "__gc"); /* a host finalizer: C, bounded, no script code */
	lua_pushcfunction(L, nameset_len_l);
	lua_setfield(L, -2, "__len");
	lua_pushliteral(L, "nameset");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);

	static const luaL_Reg ps[] = { { "covers", prefixset_covers_l }, { NULL, NULL } };
	luaL_newmetatable(L, PREFIXSET_MT);
	luaL_newlib(L, ps);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, prefixset_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushliteral(L, "prefixset");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);

	lua_settop(L, q_at);
	return 1;
}

/* ---- scripts ---- */

static void script_free(struct script *s)
{
	if (!s)
		return;
	isolate_free(s->iso); /* first: the sets the rules point into go with it */
	rules_free(s);
	free(s->path);
	free(s->src);
	free(s);
}

static struct isolate_limits limits_of(const struct config *cfg)
{
	return (struct isolate_limits){
		.mem_max = cfg->policy_memory_max,
		.instr_max = cfg->policy_instructions_max,
		.timeout_us = cfg->policy_timeout_ms * 1000u,
	};
}

/* A registry reference to global @name; LUA_NOREF when absent, LUA_NOREF - 1
 * when it is not a function. */
static int ref_function(lua_State *L, const char *name)
{
	int t = lua_getglobal(L, name);
	if (t == LUA_TFUNCTION)
		return luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);
	return t == LUA_TNIL ? LUA_NOREF : LUA_NOREF - 1;
}

/* Run protected: taking references may allocate */
static int take_refs(lua_State *L)
{
	struct script *s = lua_touserdata(L, 1);
	s->on_query = ref_function(L, "on_query");
	s->on_answer = ref_function(L, "on_answer");
	return 0;
}

/* A new isolate running @src (from @path); the script borrows neither. */
static struct script *script_build(const struct config *cfg, const char *path, const char *src,
				   size_t src_len, char *err, size_t cap)
{
	struct isolate_limits lim = limits_of(cfg);
	struct script *s = calloc(1, sizeof(*s));
	if (!s || !(s->iso = isolate_new(&lim))) {
		snprintf(err, cap, "%s: out of memory", path);
		free(s);
		return NULL;
	}
	lua_State *L = isolate_state(s->iso);
	lua_pushcfunction(L, open_tern);
	if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
		snprintf(err, cap, "%s: out of memory", path);
		goto fail;
	}
	s->v = lua_touserdata(L, -1);
	s->q_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* a fresh state: far below its cap */
	s->loading = true;
	lua_pushlightuserdata(L, s);
	lua_setfield(L, LUA_REGISTRYINDEX, "tern.script");
	enum isolate_status st = isolate_load_named(s->iso, src, src_len, path, err, cap);
	s->loading = false;
	if (st != ISOLATE_OK)
		goto fail; /* @err names the file (and the line, for an error) */
	err[0] = '\0';
	lua_pushcfunction(L, take_refs);
	lua_pushlightuserdata(L, s);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		lua_pop(L, 1);
		snprintf(err, cap, "%s: out of memory", path);
		goto fail;
	}
	for (int i = 0; i < s->n_rules && i < RULE_MEMO_RULES && !s->memo; i++)
		if (s->rules[i].names)
			s->memo = calloc(1, sizeof(*s->memo)); /* none: no memo, same verdicts */
	if (s->on_query == LUA_NOREF - 1 || s->on_answer == LUA_NOREF - 1) {
		snprintf(err, cap, "%s: on_query and on_answer must be functions", path);
		goto fail;
	}
	if (s->on_query == LUA_NOREF && s->on_answer == LUA_NOREF && !s->n_rules) {
		snprintf(err, cap, "%s: defines no tern.rule, on_query nor on_answer", path);
		goto fail;
	}
	return s;
fail:
	script_free(s);
	return NULL;
}

static struct script *script_load(const struct config *cfg, const char *path, char *err, size_t cap)
{
	size_t len;
	char *src = isolate_read_source(path, &len, err, cap);
	if (!src)
		return NULL;
	struct script *s = script_build(cfg, path, src, len, err, cap);
	char *p = s ? strdup(path) : NULL;
	if (!s || !p) {
		if (s)
			snprintf(err, cap, "%s: out of memory", path);
		script_free(s);
		free(src);
		free(p);
		return NULL;
	}
	s->src = src;
	s->src_len = len;
	s->path = p;
	return s;
}

static void set_free(struct policy_set *set)
{
	if (!set)
		return;
	script_free(set->dflt);
	for (int i = 0; i < set->n_tenants; i++)
		script_free(set->tenants[i]);
	free(set->tenants);
	free(set);
}

static struct policy_set *set_load(const struct config *cfg, char *err, size_t cap)
{
	struct policy_set *set = calloc(1, sizeof(*set));
	if (!set)
		goto oom;
	if (cfg->policy_path && !(set->dflt = script_load(cfg, cfg->policy_path, err, cap)))
		goto fail;
	if (cfg->n_tenants) {
		set->tenants = calloc((size_t)cfg->n_tenants, sizeof(*set->tenants));
		if (!set->tenants)
			goto oom;
	}
	for (int i = 0; i < cfg->n_tenants; i++) {
		set->tenants[i] = script_load(cfg, cfg->tenants[i].script, err, cap);
		set->n_tenants = i + 1;
		if (!set->tenants[i])
			goto fail;
	}
	return set;
oom:
	snprintf(err, cap, "policy: out of memory");
fail:
	set_free(set);
	return NULL;
}

/* ---- per worker ---- */

static void handoff_drop(struct policy *p)
{
	struct handoff *h = &p->handoff;
	if (!h->valid)
		return;
	h->valid = false;
	if (h->status == ISOLATE_OK)
		lua_settop(isolate_state(h->s->iso), 0);
}

static void on_reload(uv_async_t *a)
{
	struct worker *w = a->data;
	char err[ERR_MAX];
	struct policy_set *set = set_load(w->cfg, err, sizeof(err));
	if (!set) {
		log_err("policy reload failed, the old scripts stay: %s", err);
		return;
	}
	/* between two queries of this worker: nothing runs in the old isolates */
	handoff_drop(w->policy);
	set_free(w->policy->set);
	w->policy->set = set;
	if (w->index == 0)
		log_info("policy reloaded");
}

int policy_worker_init(struct worker *w)
{
	if (!policy_configured(w->cfg))
		return 0;
	struct policy *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	char err[ERR_MAX];
	p->set = set_load(w->cfg, err, sizeof(err));
	if (!p->set) {
		log_err("%s", err);
		free(p);
		return TERN_ECONFIG;
	}
	uv_async_init(&w->loop, &p->reload_async, on_reload);
	p->reload_async.data = w;
	p->async_open = true;
	w->policy = p;
	return 0;
}

void policy_worker_stop(struct worker *w)
{
	if (w->policy) {
		const struct policy_stats *s = &w->policy->stats;
		log_info("worker %d policy: %llu calls, %llu passed, %llu blocked, %llu answered, "
			 "%llu errors, %llu over budget, %llu over time, %llu over memory, %llu rebuilt, "
			 "%llu by rules",
			 w->index, (unsigned long long)s->calls, (unsigned long long)s->passed,
			 (unsigned long long)s->blocked, (unsigned long long)s->answered,
			 (unsigned long long)s->errors, (unsigned long long)s->over_budget,
			 (unsigned long long)s->over_time, (unsigned long long)s->over_memory,
			 (unsigned long long)s->rebuilt, (unsigned long long)s->ruled);
	}
	if (w->policy && w->policy->async_open) {
		uv_close((uv_handle_t *)&w->policy->reload_async, NULL);
		w->policy->async_open = false;
	}
}

void policy_worker_free(struct worker *w)
{
	if (!w->policy)
		return;
	handoff_drop(w->policy);
	set_free(w->policy->set);
	free(w->policy);
	w->policy = NULL;
}

void policy_reload(struct worker *workers, int n)
{
	for (int i = 0; i < n; i++)
		if (workers[i].policy && workers[i].policy->async_open)
			uv_async_send(&workers[i].policy->reload_async);
}

struct policy_stats policy_stats_of(const struct worker *w)
{
	struct policy_stats zero = { 0 };
	return w->policy ? w->policy->stats : zero;
}

size_t policy_mem_used(const struct worker *w)
{
	const struct policy_set *set = w->policy ? w->policy->set : NULL;
	if (!set)
		return 0;
	size_t n = set->dflt ? isolate_mem_used(set->dflt->iso) : 0;
	for (int i = 0; i < set->n_tenants; i++)
		n += isolate_mem_used(set->tenants[i]->iso);
	return n;
}

int policy_check(const struct config *cfg, char *why, size_t why_cap)
{
	if (!policy_configured(cfg))
		return 0;
	struct policy_set *set = set_load(cfg, why, why_cap);
	if (!set)
		return TERN_ECONFIG;
	set_free(set);
	return 0;
}

/* ---- the stages ---- */

static size_t bucket_of(const struct request *req)
{
	return ((uintptr_t)req >> 4) % REQ_BUCKETS;
}

struct unlink_arg {
	struct policy *p;
	struct req_state *st;
};

static void req_state_unlink(void *arg)
{
	struct unlink_arg *u = arg;
	for (struct req_state **pp = &u->p->inflight[bucket_of(u->st->req)]; *pp; pp = &(*pp)->next)
		if (*pp == u->st) {
			*pp = u->st->next;
			return;
		}
}

static struct req_state *req_state_find(struct policy *p, const struct request *req)
{
	for (struct req_state *s = p->inflight[bucket_of(req)]; s; s = s->next)
		if (s->req == req)
			return s;
	return NULL;
}

/* The tenant of a client at @peer (over DoH at @path, else NULL): -1 for
 * the default script. */
static int tenant_of(const struct worker *w, const struct sockaddr *peer, const char *path)
{
	const struct config *cfg = w->cfg;
	int best = -1, best_bits = -1;
	for (int i = 0; i < cfg->n_tenants; i++) {
		const struct tenant *t = &cfg->tenants[i];
		if (t->path) {
			/* by DoH path: an exact endpoint beats any client prefix */
			if (path && strcmp(t->path, path) == 0)
				return i;
			continue;
		}
		int bits = prefixset_match(t->clients, peer);
		if (bits > best_bits) {
			best = i;
			best_bits = bits;
		}
	}
	return best;
}

static struct script **slot_for(struct policy *p, int tenant)
{
	return tenant >= 0 ? &p->set->tenants[tenant] : &p->set->dflt;
}

static struct script *script_for(struct policy *p, int tenant)
{
	return *slot_for(p, tenant);
}

/* After a call of the script of @tenant: after REBUILD_AFTER_MEM_FAILURES
 * calls in a row out of memory, a new isolate from the same source takes its
 * place (between two calls: nothing runs in the old one). If the rebuild
 * fails, the old isolate stays and the next failure tries again. */
static void note_call(struct worker *w, int tenant, enum isolate_status st)
{
	struct policy *p = w->policy;
	struct script **slot = slot_for(p, tenant);
	struct script *old = *slot;
	if (st != ISOLATE_MEMORY) {
		old->mem_failures = 0;
		return;
	}
	if (++old->mem_failures < REBUILD_AFTER_MEM_FAILURES)
		return;
	char err[ERR_MAX];
	struct script *s = script_build(w->cfg, old->path, old->src, old->src_len, err, sizeof(err));
	if (!s) {
		log_err("policy: rebuilding an isolate out of memory failed: %s", err);
		return;
	}
	s->path = old->path;
	s->src = old->src;
	s->src_len = old->src_len;
	old->path = old->src = NULL;
	script_free(old);
	*slot = s;
	p->stats.rebuilt++;
	log_warn("worker %d: policy isolate rebuilt after %d calls in a row out of memory",
		 w->index, REBUILD_AFTER_MEM_FAILURES);
}

static struct result *new_result(struct request *req, uint8_t rcode, uint16_t ede)
{
	struct result *r = arena_zalloc(req->arena, sizeof(*r));
	if (!r)
		return NULL;
	r->rcode = rcode;
	r->ede = ede;
	return r;
}

/* The answer of a blocking action (refuse, nxdomain, nodata, servfail): the
 * same codes whether on_query or a rule chose it. */
static struct result *blocked_result(struct request *req, enum action a)
{
	switch (a) {
	case ACT_REFUSE:
		return new_result(req, RCODE_REFUSED, EDE_PROHIBITED_);
	case ACT_NXDOMAIN:
		return new_result(req, RCODE_NXDOMAIN, EDE_BLOCKED);
	case ACT_NODATA:
		return new_result(req, RCODE_NOERROR, EDE_BLOCKED);
	default:
		return new_result(req, RCODE_SERVFAIL, EDE_BLOCKED);
	}
}

static enum step failed(struct request *req, enum isolate_status st, const char *err)
{
	struct policy *p = req->w->policy;
	switch (st) {
	case ISOLATE_BUDGET:
		p->stats.over_budget++;
		break;
	case ISOLATE_TIMEOUT:
		p->stats.over_time++;
		break;
	case ISOLATE_MEMORY:
		p->stats.over_memory++;
		break;
	default:
		p->stats.errors++;
		break;
	}
	/* the script's own message may quote the name: debug only, and by number */
	log_debug("request %llu: policy failed: %s", (unsigned long long)req->no,
		  isolate_status_text(st));
	(void)err;
	if (!req->w->cfg->policy_fail_closed)
		return STEP_NEXT;
	struct result *r = new_result(req, RCODE_SERVFAIL, EDE_OTHER);
	if (r)
		r->ede_text = "policy failed";
	req->result = r;
	return STEP_FAIL;
}

/* Wire RDATA from "TYPE DATA" text; returns the type or -1. */
static int parse_record(const char *text, const uint8_t *qname, uint8_t *rd, uint16_t *rdlen)
{
	char type[16];
	const char *sp = strpbrk(text, " \t");
	size_t tl = sp ? (size_t)(sp - text) : strlen(text);
	if (!sp || tl >= sizeof(type))
		return -1;
	memcpy(type, text, tl);
	type[tl] = '\0';
	const char *data = sp;
	while (*data == ' ' || *data == '\t')
		data++;
	int t = type_code(type);
	(void)qname;
	switch (t) {
	case TYPE_A:
		if (inet_pton(AF_INET, data, rd) != 1)
			return -1;
		*rdlen = 4;
		return t;
	case TYPE_AAAA:
		if (inet_pton(AF_INET6, data, rd) != 1)
			return -1;
		*rdlen = 16;
		return t;
	case TYPE_CNAME:
	case 12: /* PTR */ {
		uint8_t name[NAME_MAX_WIRE];
		if (name_from_text(data, name) < 0)
			return -1;
		*rdlen = (uint16_t)name_len(name);
		memcpy(rd, name, *rdlen);
		return t;
	}
	case 16: { /* TXT: one string of up to 255 bytes */
		size_t n = strlen(data);
		if (n > 255)
			return -1;
		rd[0] = (uint8_t)n;
		memcpy(rd + 1, data, n);
		*rdlen = (uint16_t)(n + 1);
		return t;
	}
	}
	return -1;
}

static bool add_local(struct request *req, struct result *r, const char *text, uint32_t ttl,
		      bool *has_cname)
{
	uint8_t rd[NAME_MAX_WIRE + 1];
	uint16_t rdlen;
	int t = parse_record(text, req->q.qname, rd, &rdlen);
	if (t < 0)
		return false;
	/* only what answers the question: its type, or a CNAME (alone) */
	if (t != req->q.qtype && t != TYPE_CNAME && req->q.qtype != 255)
		return true;
	if (*has_cname)
		return true;
	if (t == TYPE_CNAME && r->answer) {
		r->answer = NULL; /* RFC 1034 3.6.2: a CNAME has no other data beside it */
	}
	struct rrset *s = NULL;
	for (struct rrset *x = r->answer; x; x = x->next)
		if (x->type == t)
			s = x;
	if (!s) {
		s = arena_zalloc(req->arena, sizeof(*s));
		if (!s)
			return false;
		s->owner = arena_memdup(req->arena, req->q.qname, name_len(req->q.qname));
		s->type = (uint16_t)t;
		s->ttl_s = s->orig_ttl_s = ttl;
		s->rdata = arena_alloc(req->arena, LOCAL_RECORDS_MAX * (2 + NAME_MAX_WIRE + 1));
		if (!s->owner || !s->rdata)
			return false;
		rrset_append(&r->answer, s);
	}
	if (s->n_rdata == LOCAL_RECORDS_MAX)
		return true;
	s->rdata[s->rdata_len] = (uint8_t)(rdlen >> 8);
	s->rdata[s->rdata_len + 1] = (uint8_t)rdlen;
	memcpy(s->rdata + s->rdata_len + 2, rd, rdlen);
	s->rdata_len += 2u + rdlen;
	s->n_rdata++;
	if (t == TYPE_CNAME)
		*has_cname = true;
	return true;
}

/* tern.answer(records [, ttl]) at stack index @at: a string or a list of them */
static struct result *local_answer(struct request *req, lua_State *L, int at)
{
	struct result *r = new_result(req, RCODE_NOERROR, EDE_NONE);
	if (!r)
		return NULL;
	lua_Integer ttl = lua_isinteger(L, at + 1) ? lua_tointeger(L, at + 1) : LOCAL_TTL_S;
	if (ttl < 0 || ttl > 86400)
		ttl = LOCAL_TTL_S;
	bool has_cname = false;
	if (lua_type(L, at) == LUA_TSTRING)
		return add_local(req, r, lua_tostring(L, at), (uint32_t)ttl, &has_cname) ? r : NULL;
	if (lua_type(L, at) != LUA_TTABLE)
		return NULL;
	for (int i = 1; i <= LOCAL_RECORDS_MAX; i++) {
		/* raw reads: no metamethod runs outside the call */
		if (lua_rawgeti(L, at, i) != LUA_TSTRING) {
			lua_pop(L, 1);
			break;
		}
		bool ok = add_local(req, r, lua_tostring(L, -1), (uint32_t)ttl, &has_cname);
		lua_pop(L, 1);
		if (!ok)
			return NULL;
	}
	return r;
}

static void save_tags(struct req_state *st, lua_State *L, int at)
{
	if (lua_type(L, at) == LUA_TSTRING) {
		snprintf(st->tags[0], sizeof(st->tags[0]), "%s", lua_tostring(L, at));
		st->n_tags = 1;
		return;
	}
	if (lua_type(L, at) != LUA_TTABLE)
		return;
	for (int i = 1; i <= TAGS_MAX; i++) {
		if (lua_rawgeti(L, at, i) != LUA_TSTRING) {
			lua_pop(L, 1);
			break;
		}
		snprintf(st->tags[st->n_tags++], sizeof(st->tags[0]), "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
	}
}

/* Apply an action at stack index 1 (values after it) to @req. */
static enum step apply(struct request *req, struct script *s, lua_State *L, int n,
		       struct req_state *st, bool in_answer)
{
	struct policy *p = req->w->policy;
	enum action a = n == 0 || lua_isnil(L, 1) ? ACT_PASS : (enum action)lua_tointeger(L, 1);
	if (n > 0 && !lua_isnil(L, 1) && !lua_isinteger(L, 1))
		a = 0;
	struct result *r = NULL;
	switch (a) {
	case ACT_PASS:
		p->stats.passed++;
		if (st && n >= 2)
			save_tags(st, L, 2);
		return STEP_NEXT;
	case ACT_REFUSE:
	case ACT_NXDOMAIN:
	case ACT_NODATA:
	case ACT_SERVFAIL:
		r = blocked_result(req, a);
		break;
	case ACT_ANSWER:
		r = local_answer(req, L, 2);
		if (!r)
			return failed(req, ISOLATE_ERROR, "tern.answer: bad records");
		p->stats.answered++;
		req->result = r;
		return STEP_ANSWER;
	case ACT_KEEP:
		if (in_answer)
			return STEP_NEXT; /* handled by the caller */
		/* fall through */
	default:
		return failed(req, ISOLATE_ERROR, "not an action");
	}
	(void)s;
	if (!r)
		return STEP_FAIL;
	p->stats.blocked++;
	req->result = r;
	return STEP_ANSWER;
}

/* Apply the rule @r that matched @req. */
static enum step rule_apply(struct request *req, const struct rule *r, struct req_state *st)
{
	struct policy *p = req->w->policy;
	struct result *res = NULL;
	p->stats.ruled++;
	if (st && r->action != ACT_PASS)
		st->decided = true; /* on_answer does not see it */
	switch (r->action) {
	case ACT_PASS:
		p->stats.passed++;
		return STEP_NEXT;
	case ACT_REFUSE:
	case ACT_NXDOMAIN:
	case ACT_NODATA:
	case ACT_SERVFAIL:
		res = blocked_result(req, r->action);
		break;
	case ACT_ANSWER: {
		res = new_result(req, RCODE_NOERROR, EDE_NONE);
		bool has_cname = false;
		for (int i = 0; res && i < r->n_records; i++)
			if (!add_local(req, res, r->records[i], r->ttl, &has_cname))
				res = NULL;
		if (!res)
			return STEP_FAIL;
		p->stats.answered++;
		req->result = res;
		return STEP_ANSWER;
	}
	default:
		return STEP_FAIL;
	}
	if (!res)
		return STEP_FAIL;
	p->stats.blocked++;
	req->result = res;
	return STEP_ANSWER;
}

static socklen_t peer_size(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The fast path's verdict for @req, if it handed this query over. */
static bool handoff_take(struct policy *p, const struct request *req, struct handoff *out)
{
	struct handoff *h = &p->handoff;
	if (!h->valid)
		return false;
	const struct sockaddr *peer = (const struct sockaddr *)&req->peer;
	if (req->is_tcp || req->tx || req->q_len != h->q_len || peer_size(peer) != h->peer_len ||
	    memcmp(req->q_wire, h->q, h->q_len) != 0 || memcmp(peer, &h->peer, h->peer_len) != 0) {
		handoff_drop(p); /* not the query it was for: never started */
		return false;
	}
	*out = *h;
	h->valid = false;
	return true;
}

enum step policy_query_run(struct request *req)
{
	struct policy *p = req->w->policy;
	if (!p)
		return STEP_NEXT;
	struct handoff h;
	if (handoff_take(p, req, &h)) {
		/* the fast path ran on_query already (a script without on_answer) */
		if (h.status != ISOLATE_OK) {
			enum step step = failed(req, h.status, "");
			note_call(req->w, h.tenant, h.status);
			return step;
		}
		lua_State *L = isolate_state(h.s->iso);
		enum step step = apply(req, h.s, L, 3, NULL, false);
		lua_settop(L, 0);
		note_call(req->w, h.tenant, h.status);
		return step;
	}
	const char *path = req->tx && req->tx->path ? req->tx->path(req) : NULL;
	int tenant = tenant_of(req->w, (const struct sockaddr *)&req->peer, path);
	struct script *s = script_for(p, tenant);
	if (!s)
		return STEP_NEXT;
	struct req_state *st = NULL;
	if (s->on_answer != LUA_NOREF) {
		st = arena_zalloc(req->arena, sizeof(*st));
		struct unlink_arg *u = arena_alloc(req->arena, sizeof(*u));
		if (!st || !u || arena_defer(req->arena, req_state_unlink, u) < 0)
			return STEP_FAIL;
		st->req = req;
		st->tenant = tenant;
		u->p = p;
		u->st = st;
		size_t b = bucket_of(req);
		st->next = p->inflight[b];
		p->inflight[b] = st;
	}
	if (s->n_rules) {
		const struct rule *r =
			rules_match(s, req->q.qname, name_len(req->q.qname), req->q.qtype,
				    (const struct sockaddr *)&req->peer);
		if (r)
			return rule_apply(req, r, st);
	}
	if (s->on_query == LUA_NOREF) {
		if (s->n_rules)
			p->stats.passed++;
		return STEP_NEXT;
	}
	lua_State *L = isolate_state(s->iso);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->on_query);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->q_ref);
	struct qview *v = lua_touserdata(L, -1);
	qview_bind(v, req, st);
	p->stats.calls++;
	char err[ERR_MAX];
	enum isolate_status status = isolate_call(s->iso, 1, 3, err, sizeof(err));
	qview_unbind(v);
	if (status != ISOLATE_OK) {
		enum step step = failed(req, status, err);
		if (st && step != STEP_NEXT)
			st->decided = true;
		note_call(req->w, tenant, status); /* may replace s */
		return step;
	}
	lua_settop(L, 3);
	enum step step = apply(req, s, L, 3, st, false);
	lua_settop(L, 0);
	note_call(req->w, tenant, status);
	if (st && step != STEP_NEXT)
		st->decided = true;
	return step;
}

enum policy_fast policy_fast_query(struct worker *w, const uint8_t *q, size_t q_len,
				   const struct sockaddr *peer)
{
	struct policy *p = w->policy;
	if (!p)
		return POLICY_FAST_PASS;
	handoff_drop(p);
	int tenant = w->cfg->n_tenants ? tenant_of(w, peer, NULL) : -1;
	struct script *s = script_for(p, tenant);
	if (!s)
		return POLICY_FAST_PASS;
	if (s->on_answer != LUA_NOREF)
		return POLICY_FAST_FULL; /* on_answer must see the answer: the full path runs all */
	/* the fast path has checked the question: one uncompressed name, type
	 * and class, right after the header; its bounds are checked again here */
	size_t pos = DNS_HDR_LEN;
	while (pos < q_len && q[pos] != 0) {
		if (q[pos] > 63)
			return POLICY_FAST_FULL;
		pos += 1u + q[pos];
	}
	if (pos + 5 > q_len || pos - DNS_HDR_LEN + 1 > NAME_MAX_WIRE)
		return POLICY_FAST_FULL;
	uint16_t qtype = (uint16_t)(q[pos + 1] << 8 | q[pos + 2]);
	if (s->n_rules) {
		/* in C, no Lua: a rule that blocks or answers is applied by the
		 * full path, which finds the same rule again */
		const struct rule *r =
			rules_match(s, q + DNS_HDR_LEN, pos - DNS_HDR_LEN + 1, qtype, peer);
		if (r && r->action != ACT_PASS)
			return POLICY_FAST_FULL;
		if (r || s->on_query == LUA_NOREF) {
			p->stats.ruled += r != NULL;
			p->stats.passed++;
			return POLICY_FAST_PASS;
		}
	}
	if (s->on_query == LUA_NOREF)
		return POLICY_FAST_PASS;
	if (q_len > HANDOFF_Q_MAX)
		return POLICY_FAST_FULL;
	lua_State *L = isolate_state(s->iso);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->on_query);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->q_ref);
	struct qview *v = s->v;
	v->live = true;
	v->req = NULL;
	v->st = NULL;
	v->qname = q + DNS_HDR_LEN;
	v->qname_len = pos - DNS_HDR_LEN + 1;
	v->qtype = qtype;
	v->qclass = (uint16_t)(q[pos + 3] << 8 | q[pos + 4]);
	v->flags = (uint16_t)(q[2] << 8 | q[3]);
	v->peer = peer;
	v->wire = q;
	v->wire_len = q_len;
	v->msg = NULL;
	v->name = NULL;
	p->stats.calls++;
	enum isolate_status status = isolate_call(s->iso, 1, 3, NULL, 0);
	qview_unbind(v);
	if (status == ISOLATE_OK) {
		/* the stack holds the 3 results alone. tern.pass() (or nothing):
		 * tags without on_answer change nothing */
		int is_int;
		lua_Integer a = lua_tointegerx(L, 1, &is_int);
		if ((is_int && a == ACT_PASS && lua_isinteger(L, 1)) || lua_isnil(L, 1)) {
			lua_settop(L, 0);
			p->stats.passed++;
			s->mem_failures = 0; /* note_call() of a call that did not run out of memory */
			return POLICY_FAST_PASS;
		}
	}
	struct handoff *h = &p->handoff;
	h->valid = true;
	h->tenant = tenant;
	h->s = s;
	h->status = status;
	h->q_len = (uint16_t)q_len;
	memcpy(h->q, q, q_len);
	h->peer_len = peer_size(peer);
	memcpy(&h->peer, peer, h->peer_len);
	return POLICY_FAST_FULL;
}

/* ---- on_answer ---- */

static void push_rdata_text(lua_State *L, uint16_t type, const uint8_t *rd, uint16_t len)
{
	char buf[1024];
	if (type == TYPE_A && len == 4 && inet_ntop(AF_INET, rd, buf, sizeof(buf))) {
		lua_pushstring(L, buf);
	} else if (type == TYPE_AAAA && len == 16 && inet_ntop(AF_INET6, rd, buf, sizeof(buf))) {
		lua_pushstring(L, buf);
	} else if ((type == TYPE_CNAME || type == 12 || type == TYPE_NS) && len > 0 &&
		   name_len(rd) <= len) {
		size_t n = name_text(rd, buf, sizeof(buf));
		lua_pushlstring(L, buf, n);
	} else {
		lua_pushlstring(L, (const char *)rd, len); /* other types: the raw RDATA */
	}
}

/* a = { rcode = "NOERROR", records = { {name, type, ttl, data, id}... } } */
static void push_answer(lua_State *L, const struct result *r)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, rcode_name(r->rcode));
	lua_setfield(L, -2, "rcode");
	lua_createtable(L, 4, 0);
	int i = 0, set_no = 0;
	for (const struct rrset *s = r->answer; s; s = s->next, set_no++) {
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		int rr_no = 0;
		char tb[16];
		char nb[1024];
		size_t nl = name_text(s->owner, nb, sizeof(nb));
		while (rrset_rdata_next(s, &off, &rd, &len)) {
			lua_createtable(L, 0, 5);
			lua_pushlstring(L, nb, nl);
			lua_setfield(L, -2, "name");
			lua_pushstring(L, type_name(s->type, tb));
			lua_setfield(L, -2, "type");
			lua_pushinteger(L, s->ttl_s);
			lua_setfield(L, -2, "ttl");
			push_rdata_text(L, s->type, rd, len);
			lua_setfield(L, -2, "data");
			lua_pushinteger(L, (lua_Integer)set_no << 16 | rr_no++);
			lua_setfield(L, -2, "id");
			lua_rawseti(L, -2, ++i);
		}
	}
	lua_setfield(L, -2, "records");
}

static int push_answer_l(lua_State *L)
{
	push_answer(L, lua_touserdata(L, 1));
	return 1;
}

/* tern.keep(list): a new answer with only the records whose id is listed */
static enum step keep(struct request *req, lua_State *L, int at)
{
	const struct result *old = req->result;
	struct result *r = arena_zalloc(req->arena, sizeof(*r));
	if (!r)
		return STEP_FAIL;
	*r = *old;
	r->answer = NULL;
	r->secure = false; /* the answer is no longer what was signed */
	int set_no = 0;
	lua_Integer n = (lua_Integer)lua_rawlen(L, at);
	for (const struct rrset *s = old->answer; s; s = s->next, set_no++) {
		struct rrset *c = NULL;
		uint32_t off = 0;
		const uint8_t *rd;
		uint16_t len;
		int rr_no = 0;
		while (rrset_rdata_next(s, &off, &rd, &len)) {
			lua_Integer id = (lua_Integer)set_no << 16 | rr_no++;
			bool kept = false;
			for (lua_Integer i = 1; i <= n && !kept; i++) {
				if (lua_rawgeti(L, at, i) == LUA_TTABLE) {
					lua_pushliteral(L, "id");
					lua_rawget(L, -2);
					kept = lua_isinteger(L, -1) && lua_tointeger(L, -1) == id;
					lua_pop(L, 1);
				}
				lua_pop(L, 1);
			}
			if (!kept)
				continue;
			if (!c) {
				c = arena_zalloc(req->arena, sizeof(*c));
				if (!c)
					return STEP_FAIL;
				*c = *s;
				c->next = NULL;
				c->n_rdata = 0;
				c->rdata_len = 0;
				c->n_sigs = 0; /* the signatures no longer cover it */
				c->sigs = NULL;
				c->sigs_len = 0;
				c->rdata = arena_alloc(req->arena, s->rdata_len);
				if (!c->rdata)
					return STEP_FAIL;
				rrset_append(&r->answer, c);
			}
			c->rdata[c->rdata_len] = (uint8_t)(len >> 8);
			c->rdata[c->rdata_len + 1] = (uint8_t)len;
			memcpy(c->rdata + c->rdata_len + 2, rd, len);
			c->rdata_len += 2u + len;
			c->n_rdata++;
		}
	}
	req->result = r;
	return STEP_NEXT;
}

enum step policy_answer_run(struct request *req)
{
	struct policy *p = req->w->policy;
	if (!p || !req->result)
		return STEP_NEXT;
	struct req_state *st = req_state_find(p, req);
	if (!st)
		return STEP_NEXT; /* on_query refused or answered it, or no on_answer */
	if (st->decided)
		return STEP_NEXT; /* on_query refused or answered it itself */
	struct script *s = script_for(p, st->tenant);
	if (!s || s->on_answer == LUA_NOREF)
		return STEP_NEXT; /* reloaded since without on_answer */
	lua_State *L = isolate_state(s->iso);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->on_answer);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->q_ref);
	struct qview *v = lua_touserdata(L, -1);
	/* a host push, protected: at the memory cap it fails this call, not the process */
	lua_pushcfunction(L, push_answer_l);
	lua_pushlightuserdata(L, req->result);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		lua_settop(L, 0);
		(void)failed(req, ISOLATE_MEMORY, "no memory for the answer");
		note_call(req->w, st->tenant, ISOLATE_MEMORY);
		return STEP_NEXT;
	}
	qview_bind(v, req, st);
	p->stats.calls++;
	char err[ERR_MAX];
	enum isolate_status status = isolate_call(s->iso, 2, 3, err, sizeof(err));
	qview_unbind(v);
	if (status != ISOLATE_OK) {
		/* fail-open keeps the answer as it was, fail-closed made it SERVFAIL */
		(void)failed(req, status, err);
		note_call(req->w, st->tenant, status);
		return STEP_NEXT;
	}
	lua_settop(L, 3);
	enum step step;
	if (lua_isinteger(L, 1) && lua_tointeger(L, 1) == ACT_KEEP && lua_type(L, 2) == LUA_TTABLE)
		step = keep(req, L, 2);
	else
		step = apply(req, s, L, 3, NULL, true);
	lua_settop(L, 0);
	note_call(req->w, st->tenant, status);
	/* whatever it decided, the answer stage comes next */
	return step == STEP_FAIL && !req->result ? STEP_FAIL : STEP_NEXT;
}

#else /* !TERN_ISOLATE: built without Lua; config refuses --policy */

struct policy {
	int unused;
};

int policy_worker_init(struct worker *w)
{
	if (!policy_configured(w->cfg))
		return 0;
	if (w->index == 0)
		log_err("policy scripts need Lua: this ternd was built with --disable-isolate");
	return TERN_ECONFIG;
}
void policy_worker_stop(struct worker *w)
{
	(void)w;
}
void policy_worker_free(struct worker *w)
{
	(void)w;
}
void policy_reload(struct worker *workers, int n)
{
	(void)workers;
	(void)n;
}
struct policy_stats policy_stats_of(const struct worker *w)
{
	(void)w;
	struct policy_stats zero = { 0 };
	return zero;
}
size_t policy_mem_used(const struct worker *w)
{
	(void)w;
	return 0;
}
enum step policy_query_run(struct request *req)
{
	(void)req;
	return STEP_NEXT;
}
enum step policy_answer_run(struct request *req)
{
	(void)req;
	return STEP_NEXT;
}
enum policy_fast policy_fast_query(struct worker *w, const uint8_t *q, size_t q_len,
				   const struct sockaddr *peer)
{
	(void)w;
	(void)q;
	(void)q_len;
	(void)peer;
	return POLICY_FAST_FULL;
}
int policy_check(const struct config *cfg, char *why, size_t why_cap)
{
	if (!policy_configured(cfg))
		return 0;
	snprintf(why, why_cap, "policy scripts need Lua: this ternd was built with --disable-isolate");
	return TERN_ECONFIG;
}

#endif

bool policy_configured(const struct config *cfg)
{
	return cfg->policy_path || cfg->n_tenants > 0;
}
