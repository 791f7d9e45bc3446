/* bench/policy_bench: the costs of the policy isolates (issue #5):
 *   - isolate creation (lua_newstate with the safe libraries; and with the
 *     tern API and a trivial script loaded, as a worker does);
 *   - the memory of an idle isolate;
 *   - the policy stage per query: no policy, a trivial on_query
 *     (return tern.pass()), and the example over a 100k-name list;
 *   - nameset_covers() alone on that list (hit and miss).
 * Build it against a configured build (default ../build-iso):
 *   cc -O2 -g -D_GNU_SOURCE -I. -Ibuild-iso $(pkg-config --cflags lua5.4 libuv) \
 *      -o build-iso/policy_bench bench/policy_bench.c \
 *      build-iso/libresolver.a build-iso/libcache.a build-iso/libproto.a build-iso/libbase.a \
 *      $(pkg-config --libs lua5.4 libuv ldns lmdb openssl libnghttp2) -pthread
 * and run build-iso/policy_bench (single thread, prints one line per figure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>

#include "base/arena.h"
#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/isolate.h"
#include "resolver/nameset.h"
#include "resolver/policy.h"
#include "resolver/request.h"
#include "resolver/worker.h"

#define N_NAMES 100000
#define CREATE_ROUNDS 2000
#define CALL_ROUNDS 1000000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* A worker with @script as its policy (NULL: none), enough to run the stage. */
static void worker_with(struct worker *w, struct config *cfg, const char *script)
{
	memset(w, 0, sizeof(*w));
	memset(cfg, 0, sizeof(*cfg));
	cfg->policy_path = script ? strdup(script) : NULL;
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

static struct request *request_for(struct worker *w, const char *name)
{
	struct arena *a = arena_create(REQUEST_ARENA_MAX);
	struct request *req = arena_zalloc(a, sizeof(*req));
	req->arena = a;
	req->w = w;
	struct sockaddr_in *sin = (struct sockaddr_in *)&req->peer;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000001);
	req->peer_len = sizeof(*sin);
	uint8_t qname[NAME_MAX_WIRE];
	name_from_text(name, qname);
	req->q_wire = arena_alloc(a, 512);
	struct msg_builder b;
	mb_init(&b, req->q_wire, 512, 1, FLAG_RD);
	mb_question(&b, qname, TYPE_A, CLASS_IN);
	req->q_len = (uint16_t)mb_finish(&b);
	const char *why;
	if (msg_parse(&req->q, req->q_wire, req->q_len, &why) < 0) {
		fprintf(stderr, "msg_parse: %s\n", why);
		exit(1);
	}
	return req;
}

static double stage_ns(struct worker *w, const char *name)
{
	struct request *req = request_for(w, name);
	double t0 = now_s();
	for (int i = 0; i < CALL_ROUNDS; i++) {
		req->result = NULL;
		(void)policy_query_run(req);
	}
	double ns = (now_s() - t0) / CALL_ROUNDS * 1e9;
	arena_destroy(req->arena);
	return ns;
}

int main(void)
{
	struct isolate_limits lim = { .mem_max = 16 * 1024 * 1024, .instr_max = 1000000,
				      .timeout_us = 10000 };
	/* creation of a bare isolate */
	double t0 = now_s();
	size_t idle = 0;
	for (int i = 0; i < CREATE_ROUNDS; i++) {
		struct isolate *iso = isolate_new(&lim);
		idle = isolate_mem_used(iso);
		isolate_free(iso);
	}
	double create_us = (now_s() - t0) / CREATE_ROUNDS * 1e6;
	printf("isolate_new+free:                 %8.1f us   idle isolate %zu bytes (%.1f KiB)\n",
	       create_us, idle, idle / 1024.0);

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

	/* a worker's whole load: isolate, tern API, the trivial script */
	struct worker w;
	struct config cfg;
	t0 = now_s();
	for (int i = 0; i < CREATE_ROUNDS; i++) {
		worker_with(&w, &cfg, trivial);
		policy_worker_stop(&w);
		uv_run(&w.loop, UV_RUN_DEFAULT);
		policy_worker_free(&w);
		uv_loop_close(&w.loop);
		free(cfg.policy_path);
	}
	printf("policy load (isolate+API+script): %8.1f us\n", (now_s() - t0) / CREATE_ROUNDS * 1e6);

	worker_with(&w, &cfg, NULL);
	printf("stage, no policy:                 %8.1f ns/query\n", stage_ns(&w, "www.example.com"));
	uv_loop_close(&w.loop);

	worker_with(&w, &cfg, trivial);
	printf("stage, trivial on_query:          %8.1f ns/query\n", stage_ns(&w, "www.example.com"));
	policy_worker_stop(&w);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	policy_worker_free(&w);
	uv_loop_close(&w.loop);
	free(cfg.policy_path);

	t0 = now_s();
	worker_with(&w, &cfg, ex);
	printf("example load with 100k list:      %8.1f ms (file read once per process)\n",
	       (now_s() - t0) * 1e3);
	printf("stage, example, name not listed:  %8.1f ns/query\n",
	       stage_ns(&w, "www.some-site.example.org"));
	printf("stage, example, name listed:      %8.1f ns/query\n",
	       stage_ns(&w, "x.ads777.tracker777.example"));

	char err[256];
	struct nameset *s = nameset_open(bl, err, sizeof(err));
	printf("nameset: %zu names, %zu bytes (%.1f MiB)\n", nameset_count(s), nameset_bytes(s),
	       nameset_bytes(s) / 1048576.0);
	const char *miss = "www.some-site.example.org", *hit = "x.ads777.tracker777.example";
	volatile bool sink = false;
	t0 = now_s();
	for (int i = 0; i < CALL_ROUNDS; i++)
		sink ^= nameset_covers(s, miss, strlen(miss));
	printf("nameset_covers, miss (4 labels):  %8.1f ns\n", (now_s() - t0) / CALL_ROUNDS * 1e9);
	t0 = now_s();
	for (int i = 0; i < CALL_ROUNDS; i++)
		sink ^= nameset_covers(s, hit, strlen(hit));
	printf("nameset_covers, hit (4 labels):   %8.1f ns\n", (now_s() - t0) / CALL_ROUNDS * 1e9);
	nameset_close(s);
	policy_worker_stop(&w);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	policy_worker_free(&w);
	uv_loop_close(&w.loop);
	free(cfg.policy_path);
	unlink(trivial);
	unlink(ex);
	unlink(bl);
	return 0;
}
