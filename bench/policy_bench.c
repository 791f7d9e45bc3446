/* bench/policy_bench: the costs of the policy isolates (issue #5), in process:
 *   create    isolate_new()+isolate_free() (the safe libraries), and a worker's
 *             whole load of a script (isolate, tern API, a trivial script): us
 *   idle      the memory of an idle isolate: bare, and with the API and a
 *             trivial script loaded (bytes the Lua allocator holds): KiB
 *   trivial   policy_fast_query() (the cache-hit call) with
 *             `function on_query(q) return tern.pass() end`: ns per call
 *             (200 names in turn)
 *   blocklist the same with the example over a 100,000-name list
 *             (tern.nameset, blocked:covers(q.name)): 200 names not listed
 *             in turn (the query passes), 200 names listed (the verdict is
 *             handed over), and names never seen before (each q.name a new
 *             string)
 *   rules     the same list as a declarative rule (tern.rule{ names = blocked,
 *             action = tern.nxdomain() }), checked in C with no Lua call:
 *             200 names not listed, 200 listed, and names never seen before
 *   covers    nameset_covers() alone on that list
 * Each line is "key value unit". Under valgrind --tool=callgrind it runs fewer
 * rounds and brackets each loop with callgrind client requests
 * (zero / dump "key rounds"), so that bench/policy_bench.py can divide the
 * instructions of each dump by its rounds: a figure that does not depend on
 * the load of the machine.
 * Built by `make -C bench policy BUILD=...` against a configured build with
 * Lua (see bench/Makefile); run by bench/policy_bench.py. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>

#include "base/arena.h"
#include "base/log.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/isolate.h"
#include "resolver/nameset.h"
#include "resolver/policy.h"
#include "resolver/request.h"
#include "resolver/worker.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(x) ((void)(x))
#endif

#define N_NAMES 100000

static int create_rounds = 2000, call_rounds = 1000000;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start a measured loop of @rounds: zero callgrind's counters. */
static double begin(void)
{
	CALLGRIND_ZERO_STATS;
	return now_s();
}

/* End it: dump the counters as "key rounds"; print "key value unit" with the
 * time per round in @scale units (1e6: us, 1e9: ns). */
static void end(double t0, const char *key, int rounds, double scale, const char *unit)
{
	double t = now_s() - t0;
	char label[96];
	snprintf(label, sizeof(label), "%s %d", key, rounds);
	CALLGRIND_DUMP_STATS_AT(label);
	printf("%s %.3f %s\n", key, t / rounds * scale, unit);
}

static const char *write_file(const char *text, const char *suffix)
{
	static char paths[4][64];
	static int n;
	char *p = paths[n++ % 4];
	snprintf(p, 64, "/tmp/tern-policy-bench-XXXXXX%s", suffix);
	int fd = mkstemps(p, (int)strlen(suffix));
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("write");
		exit(1);
	}
	close(fd);
	return p;
}

static const char *blocklist(void)
{
	size_t cap = (size_t)N_NAMES * 40;
	char *text = malloc(cap), *o = text;
	for (int i = 0; i < N_NAMES; i++)
		o += snprintf(o, cap - (size_t)(o - text), "ads%d.tracker%d.example\n", i, i % 997);
	const char *p = write_file(text, ".txt");
	free(text);
	return p;
}

/* A worker with @script as its policy, enough to run the stage. */
static void worker_with(struct worker *w, struct config *cfg, const char *script)
{
	memset(w, 0, sizeof(*w));
	memset(cfg, 0, sizeof(*cfg));
	cfg->policy_path = strdup(script);
	cfg->policy_memory_max = 16 * 1024 * 1024;
	cfg->policy_instructions_max = 1000000;
	cfg->policy_timeout_ms = 10;
	w->cfg = cfg;
	uv_loop_init(&w->loop);
	if (policy_worker_init(w) < 0) {
		fprintf(stderr, "policy_worker_init failed\n");
		exit(1);
	}
}

static void worker_done(struct worker *w, struct config *cfg)
{
	policy_worker_stop(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	policy_worker_free(w);
	uv_loop_close(&w->loop);
	free(cfg->policy_path);
}

/* A plain query for @name (A, RD, EDNS 1232) as a client sends it. */
static size_t query_for(const char *name, uint8_t *buf, size_t cap)
{
	uint8_t qname[NAME_MAX_WIRE];
	if (name_from_text(name, qname) < 0)
		exit(1);
	struct msg_builder b;
	mb_init(&b, buf, cap, 0x1234, FLAG_RD);
	mb_question(&b, qname, TYPE_A, CLASS_IN);
	return mb_finish(&b);
}

/* policy_fast_query() as the fast path calls it on a cache hit, over @n_names
 * names made by @fmt from 0..n_names-1, in turn. */
static void fast_calls(struct worker *w, const char *key, const char *fmt, int n_names,
		       enum policy_fast want)
{
	uint8_t(*q)[128] = malloc((size_t)n_names * sizeof(*q));
	size_t *q_len = malloc((size_t)n_names * sizeof(*q_len));
	for (int i = 0; i < n_names; i++) {
		char name[96];
		snprintf(name, sizeof(name), fmt, i, i % 997);
		q_len[i] = query_for(name, q[i], sizeof(q[i]));
	}
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5353) };
	peer.sin_addr.s_addr = htonl(0xc0000201);
	if (policy_fast_query(w, q[0], q_len[0], (struct sockaddr *)&peer) != want) {
		fprintf(stderr, "%s: not the expected verdict\n", key);
		exit(1);
	}
	double t0 = begin();
	for (int i = 0, j = 0; i < call_rounds; i++, j = j + 1 == n_names ? 0 : j + 1)
		(void)policy_fast_query(w, q[j], q_len[j], (struct sockaddr *)&peer);
	end(t0, key, call_rounds, 1e9, "ns");
	free(q);
	free(q_len);
}

int main(void)
{
	log_threshold = LOG_LEVEL_WARN;
	if (RUNNING_ON_VALGRIND) {
		create_rounds = 200;
		call_rounds = 20000;
	}
	struct isolate_limits lim = { .mem_max = 16 * 1024 * 1024, .instr_max = 1000000,
				      .timeout_us = 10000 };
	struct isolate *iso = isolate_new(&lim);
	printf("idle_bare %.1f KiB\n", isolate_mem_used(iso) / 1024.0);
	isolate_free(iso);
	double t0 = begin();
	for (int i = 0; i < create_rounds; i++)
		isolate_free(isolate_new(&lim));
	end(t0, "create_bare", create_rounds, 1e6, "us");

	const char *trivial = write_file("function on_query(q) return tern.pass() end\n", ".lua");
	const char *bl = blocklist();
	char example[512];
	snprintf(example, sizeof(example),
		 "local blocked = tern.nameset(\"%s\")\n"
		 "function on_query(q)\n"
		 "  if blocked:covers(q.name) then return tern.nxdomain() end\n"
		 "  return tern.pass()\n"
		 "end\n",
		 bl);
	const char *ex = write_file(example, ".lua");
	char rules[512];
	snprintf(rules, sizeof(rules),
		 "local blocked = tern.nameset(\"%s\")\n"
		 "tern.rule{ names = blocked, action = tern.nxdomain() }\n",
		 bl);
	const char *ru = write_file(rules, ".lua");

	struct worker w;
	struct config cfg;
	t0 = begin();
	for (int i = 0; i < create_rounds; i++) {
		worker_with(&w, &cfg, trivial);
		worker_done(&w, &cfg);
	}
	end(t0, "create_loaded", create_rounds, 1e6, "us");

	worker_with(&w, &cfg, trivial);
	printf("idle_loaded %.1f KiB\n", policy_mem_used(&w) / 1024.0);
	fast_calls(&w, "call_trivial", "www.site%d.example.org", 200, POLICY_FAST_PASS);
	worker_done(&w, &cfg);

	t0 = now_s();
	worker_with(&w, &cfg, ex);
	printf("load_blocklist %.1f ms\n", (now_s() - t0) * 1e3);
	/* 200 names in turn, as bench/run's callgrind pass; then every name new */
	fast_calls(&w, "call_blocklist_pass", "www.site%d.example.org", 200, POLICY_FAST_PASS);
	fast_calls(&w, "call_blocklist_block", "x.ads%d.tracker%d.example", 200, POLICY_FAST_FULL);
	fast_calls(&w, "call_blocklist_pass_new_names", "www.fresh%d.example.org", call_rounds,
		   POLICY_FAST_PASS);
	worker_done(&w, &cfg);

	/* the same list as a rule, checked in C: no Lua call */
	worker_with(&w, &cfg, ru);
	fast_calls(&w, "rules_blocklist_pass", "www.site%d.example.org", 200, POLICY_FAST_PASS);
	fast_calls(&w, "rules_blocklist_block", "x.ads%d.tracker%d.example", 200, POLICY_FAST_FULL);
	fast_calls(&w, "rules_blocklist_pass_new_names", "www.fresh%d.example.org", call_rounds,
		   POLICY_FAST_PASS);
	worker_done(&w, &cfg);

	char err[256];
	struct nameset *s = nameset_open(bl, err, sizeof(err));
	printf("nameset_names %zu names\nnameset_size %.1f MiB\n", nameset_count(s),
	       nameset_bytes(s) / 1048576.0);
	const char *miss = "www.some-site.example.org", *hit = "x.ads777.tracker777.example";
	volatile bool sink = false;
	t0 = begin();
	for (int i = 0; i < call_rounds; i++)
		sink ^= nameset_covers(s, miss, strlen(miss));
	end(t0, "covers_miss", call_rounds, 1e9, "ns");
	t0 = begin();
	for (int i = 0; i < call_rounds; i++)
		sink ^= nameset_covers(s, hit, strlen(hit));
	end(t0, "covers_hit", call_rounds, 1e9, "ns");
	nameset_close(s);
	unlink(trivial);
	unlink(ex);
	unlink(ru);
	unlink(bl);
	return 0;
}
