/* fuzz/fuzz_policy: libFuzzer target for the policy stage (resolver/policy.c
 * over resolver/isolate.c). The first byte of the input chooses the mode and
 * the query's surroundings:
 *   bit 7 clear: the rest is a DNS message, shown to a fixed script that reads
 *     every field of q (name, labels, type, client, transport, path, EDNS,
 *     tags) and returns every action (pass with tags, refuse, NXDOMAIN,
 *     NODATA, SERVFAIL, local answers, an error, a loop past its budget, a
 *     value that is no action); its answer section, grouped into RRsets, is
 *     then the answer on_answer sees and filters with tern.keep;
 *   bit 7 set: the rest is script text, a NUL, then the DNS message: the
 *     text is loaded as a policy (most inputs fail to compile, which is fine)
 *     and, when it loads, runs on the message as above.
 *   bits 0-1: transport (udp, tcp, dot, doh with a path); bit 2: fail-closed;
 *   bits 3-4: the client (private v4, public v4, ULA v6, v4-mapped v6);
 *   bit 5 (UDP only): as a cache hit of the fast path first (policy_fast_query,
 *     which hands its verdict over to policy_query_run for the same query).
 * Limits are small so that loops and memory bombs stop fast. Any broken
 * invariant aborts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/log.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/policy.h"
#include "resolver/request.h"
#include "resolver/rrset.h"
#include "resolver/worker.h"
#include "fuzz/fuzz.h"

#define SCRIPT_MAX (16 * 1024)

static const char FIXED_SCRIPT[] =
	"local ads = tern.names{'ads.example', 'tracker.test', 'xn--bcher-kva.example'}\n"
	"local lan = tern.prefixset{'10.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '127.0.0.1'}\n"
	"tern.rule{ names = { 'rule-pass.test' }, action = tern.pass() }\n"
	"tern.rule{ names = ads, types = { 'AAAA', 'HTTPS', 99 }, action = tern.nodata() }\n"
	"tern.rule{ names = { 'rule.test', 'x\\\\.y.test', 'a\\\\032b.test' }, clients = lan,\n"
	"           answer = { 'A 192.0.2.7', 'AAAA 2001:db8::7', 'CNAME c.example' }, ttl = 5 }\n"
	"tern.rule{ names = { 'rule.test' }, action = tern.refuse() }\n"
	"tern.rule{ clients = { '192.0.2.0/24' }, types = 'TXT', action = tern.servfail() }\n"
	"function on_query(q)\n"
	"  local n, labels, t, c, tr = q.name, q.labels, q.type, q.client, q.transport\n"
	"  local _ = { q.path, q.edns, q.dnssec_ok, q.edns_size, q.rd, q.cd, q.class, q.qtype,\n"
	"              q.tags, q.nosuch, #ads }\n"
	"  if ads:has(n) then return tern.nodata() end\n"
	"  if ads:covers(n) then return tern.nxdomain() end\n"
	"  if tern.is_under(n, 'refuse.test') then return tern.refuse() end\n"
	"  if tern.is_under(n, 'fail.test') then return tern.servfail() end\n"
	"  if tern.is_under(n, 'error.test') then error('boom') end\n"
	"  if tern.is_under(n, 'loop.test') then while true do end end\n"
	"  if tern.is_under(n, 'bomb.test') then local s = 'x' while true do s = s .. s end end\n"
	"  if labels[1] == 'local' then\n"
	"    return tern.answer({ 'A 10.0.0.1', 'AAAA ::1', 'CNAME block.example', 'TXT ' .. n,\n"
	"                         'PTR ' .. (labels[2] or '.'), 'A ' .. (labels[3] or '') }, #labels)\n"
	"  end\n"
	"  if t == 'TXT' then return tern.answer('TXT ' .. n) end\n"
	"  if t == 'CAA' then return tern.answer(n) end\n"
	"  if t == 'SRV' then return 42 end\n"
	"  if c and lan:covers(c) then return tern.pass({ 'lan', tr, n }) end\n"
	"  return tern.pass(tr)\n"
	"end\n"
	"function on_answer(q, a)\n"
	"  if a.rcode ~= 'NOERROR' then return tern.pass() end\n"
	"  if q.type == 'MX' then return tern.answer('A 192.0.2.1') end\n"
	"  if q.type == 'NS' then return tern.nxdomain() end\n"
	"  local keep = {}\n"
	"  for _, r in ipairs(a.records) do\n"
	"    local ok, priv = pcall(tern.is_private, r.data)\n"
	"    if not (ok and priv and not q.tags.lan) and r.type ~= 'AAAA' then\n"
	"      keep[#keep + 1] = r\n"
	"    end\n"
	"  end\n"
	"  return tern.keep(keep)\n"
	"end\n";

static const char *doh_path(const struct request *req)
{
	(void)req;
	return "/dns-query/family";
}
static const struct transport TX_DOT = { .name = "dot" };
static const struct transport TX_DOH = { .name = "doh", .path = doh_path };

struct target {
	struct config cfg;
	struct worker w;
	char path[64];
};

static void limits(struct config *c)
{
	c->policy_memory_max = 1024 * 1024;
	c->policy_instructions_max = 20000;
	c->policy_timeout_ms = 200;
}

static int write_script(char path[64], const char *src, size_t len)
{
	snprintf(path, 64, "/tmp/fuzz_policy.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, src, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static void target_stop(struct target *t)
{
	policy_worker_stop(&t->w);
	uv_run(&t->w.loop, UV_RUN_NOWAIT); /* the reload handle's close */
	policy_worker_free(&t->w);
	CHECK(uv_loop_close(&t->w.loop) == 0);
}

static struct target fixed;

static void fixed_init(void)
{
	log_threshold = LOG_LEVEL_ERR;
	limits(&fixed.cfg);
	CHECK(write_script(fixed.path, FIXED_SCRIPT, sizeof(FIXED_SCRIPT) - 1) == 0);
	fixed.cfg.policy_path = fixed.path;
	CHECK(uv_loop_init(&fixed.w.loop) == 0);
	fixed.w.cfg = &fixed.cfg;
	CHECK(policy_worker_init(&fixed.w) == 0);
	CHECK(policy_configured(&fixed.cfg));
	unlink(fixed.path);
}

/* The message's answer section as RRsets (consecutive RRs of one owner and
 * type together), as the resolver hands them to on_answer. */
static struct result *result_of(struct arena *a, const struct msg *m)
{
	struct result *r = arena_zalloc(a, sizeof(*r));
	if (!r)
		return NULL;
	r->rcode = m->hdr.flags & 0xf;
	r->ede = EDE_NONE;
	struct rr_iter it;
	struct rr_view rr;
	struct rrset *last = NULL;
	rr_iter_init(m, &it, SEC_ANSWER);
	while (rr_next(m, &it, &rr)) {
		uint8_t owner[NAME_MAX_WIRE];
		uint8_t rd[UINT16_MAX];
		if (rr_owner(m, &rr, owner) < 0)
			continue;
		int len = rr_rdata_unpack(m, &rr, rd, sizeof(rd));
		if (len < 0 || rr.type == TYPE_OPT)
			continue;
		if (!last || last->type != rr.type || !name_equal(last->owner, owner)) {
			last = arena_zalloc(a, sizeof(*last));
			if (!last)
				return r;
			last->owner = arena_memdup(a, owner, name_len(owner));
			last->type = rr.type;
			last->ttl_s = last->orig_ttl_s = rr.ttl;
			last->rdata = arena_alloc(a, m->len + 2u * m->count[SEC_ANSWER] + 1);
			if (!last->owner || !last->rdata)
				return r;
			rrset_append(&r->answer, last);
		}
		/* unpacked names can outgrow their packed form: stop before overflowing */
		if (last->rdata_len + 2u + (unsigned)len > m->len + 2u * m->count[SEC_ANSWER])
			break;
		last->rdata[last->rdata_len] = (uint8_t)(len >> 8);
		last->rdata[last->rdata_len + 1] = (uint8_t)len;
		memcpy(last->rdata + last->rdata_len + 2, rd, (size_t)len);
		last->rdata_len += 2u + (uint32_t)len;
		last->n_rdata++;
	}
	return r;
}

static void run_query(struct target *t, uint8_t flags, const uint8_t *wire, size_t len)
{
	struct msg m;
	if (len > UINT16_MAX || msg_parse(&m, wire, len, NULL) != 0 || m.count[SEC_QUESTION] != 1)
		return; /* admit answers these before policy runs */
	struct arena *a = arena_create(REQUEST_ARENA_MAX);
	CHECK(a);
	struct request *req = arena_zalloc(a, sizeof(*req));
	CHECK(req);
	req->arena = a;
	req->w = &t->w;
	req->q_wire = arena_memdup(a, wire, len);
	CHECK(req->q_wire);
	req->q_len = (uint16_t)len;
	CHECK(msg_parse(&req->q, req->q_wire, len, NULL) == 0);
	req->q_parsed = true;
	switch (flags & 3) {
	case 1:
		req->is_tcp = true;
		break;
	case 2:
		req->is_tcp = true;
		req->tx = &TX_DOT;
		break;
	case 3:
		req->is_tcp = true;
		req->tx = &TX_DOH;
		break;
	}
	t->cfg.policy_fail_closed = flags & 4;
	switch ((flags >> 3) & 3) {
	case 0:
	case 1: {
		struct sockaddr_in *sin = (struct sockaddr_in *)&req->peer;
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, (flags >> 3) & 1 ? "198.51.100.7" : "10.1.2.3", &sin->sin_addr);
		req->peer_len = sizeof(*sin);
		break;
	}
	default: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&req->peer;
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, (flags >> 3) & 1 ? "::ffff:192.168.1.1" : "fd00::53",
			  &sin6->sin6_addr);
		req->peer_len = sizeof(*sin6);
		break;
	}
	}

	if ((flags & 0x23) == 0x20 &&
	    policy_fast_query(&t->w, wire, len, (const struct sockaddr *)&req->peer) ==
		    POLICY_FAST_PASS) {
		arena_destroy(a); /* the cached answer goes out as it is */
		return;
	}
	enum step st = policy_query_run(req);
	CHECK(st == STEP_NEXT || st == STEP_ANSWER || st == STEP_FAIL);
	if (st != STEP_NEXT) {
		CHECK(req->result || st == STEP_FAIL);
	} else {
		req->result = result_of(a, &m);
		const struct result *before = req->result;
		st = policy_answer_run(req);
		CHECK(st == STEP_NEXT || st == STEP_FAIL);
		CHECK(req->result || !before);
		for (const struct rrset *s = req->result ? req->result->answer : NULL; s; s = s->next) {
			uint32_t off = 0, n = 0;
			const uint8_t *rd;
			uint16_t rdlen;
			while (rrset_rdata_next(s, &off, &rd, &rdlen))
				n++;
			CHECK(n == s->n_rdata && off == s->rdata_len);
		}
	}
	arena_destroy(a); /* runs the policy's deferred unlink of its request state */
}

/* Bit 7: script text, NUL, message. */
static void run_script(uint8_t flags, const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t src_len = nul ? (size_t)(nul - data) : size;
	if (src_len > SCRIPT_MAX)
		return;
	struct target *t = calloc(1, sizeof(*t));
	CHECK(t);
	limits(&t->cfg);
	CHECK(write_script(t->path, (const char *)data, src_len) == 0);
	t->cfg.policy_path = t->path;
	char why[512];
	/* policy_check reports quietly: only a script that loads starts a worker */
	if (policy_check(&t->cfg, why, sizeof(why)) == 0) {
		CHECK(uv_loop_init(&t->w.loop) == 0);
		t->w.cfg = &t->cfg;
		if (policy_worker_init(&t->w) == 0) {
			if (nul)
				run_query(t, flags, nul + 1, size - src_len - 1);
		}
		target_stop(t);
	} else {
		/* a broken script is named by its file */
		CHECK(strncmp(why, t->path, strlen(t->path)) == 0 || strstr(why, "memory"));
	}
	unlink(t->path);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fixed.w.cfg)
		fixed_init();
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		run_script(data[0], data + 1, size - 1);
	else
		run_query(&fixed, data[0], data + 1, size - 1);
	return 0;
}
