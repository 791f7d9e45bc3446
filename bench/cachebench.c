/* bench/cachebench: the cache on its own, in process, through cache/cache.h.
 * Fills a fresh cache with N A-record RRsets (batches through cache_stash_many),
 * then has 1 and 2 threads look random ones up for a fixed time (cache_find; and
 * cache_read, alone and in held batches of READ_BATCH as a worker does for one
 * recvmmsg, when cache.h has them). Each thread is pinned to its own CPU. A control
 * does the same with random reads of a plain array as big as the cache: how this
 * machine's memory scales from 1 to 2 threads, with no cache code at all. Prints
 * one line per figure, "name value", for bench/measure.py to read.
 * Usage: cachebench DIR N_RECORDS SECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/clock.h"
#include "cache/cache.h"

#define BATCH 64                /* entries per cache_stash_many, as a resolution stores a few RRsets */
#define NAME_BYTES 32           /* "\3wwwNNNNNN\7zoneNNN\4test\0" fits */
#define FINDS_PER_ARENA 256     /* a request arena serves one query; this amortises its malloc */
#define ARENA_CAP (64 * 1024)
#define THREADS_MAX 2
#define READ_BATCH 32           /* lookups per cache_read_hold(): one recvmmsg() worth */

static struct cache *cache;
static uint8_t (*names)[NAME_BYTES];
static size_t n_names;
static atomic_int stop;
static uint64_t now_s;
static uint8_t *control;        /* the control's array */
static size_t control_bytes;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Uncompressed wire form of wwwI.zoneZ.test (every name distinct). */
static void make_name(uint8_t *out, size_t i)
{
	char www[16], zone[16];
	int a = snprintf(www, sizeof(www), "www%zu", i);
	int b = snprintf(zone, sizeof(zone), "zone%03zu", i % 1000);
	size_t o = 0;
	out[o++] = (uint8_t)a;
	memcpy(out + o, www, (size_t)a), o += (size_t)a;
	out[o++] = (uint8_t)b;
	memcpy(out + o, zone, (size_t)b), o += (size_t)b;
	memcpy(out + o, "\4test", 6);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct job {
	int cpu;
	size_t first, count;      /* insert: the slice of names */
	int use_read;             /* lookup: 0 cache_find, 1 cache_read, 2 cache_read in holds,
				   * 3 the control: a read of a random byte of control[] */
	unsigned long ops, misses;
};

static void *insert_run(void *arg)
{
	struct job *j = arg;
	uint8_t rdata[2 + 4] = {0, 4, 10, 0, 0, 0};
	struct cache_put puts[BATCH];
	pin(j->cpu);
	for (size_t i = j->first; i < j->first + j->count; i += BATCH) {
		size_t n = j->first + j->count - i < BATCH ? j->first + j->count - i : BATCH;
		for (size_t k = 0; k < n; k++)
			puts[k] = (struct cache_put){
				.name = names[i + k],
				.type = 1,
				.entry = {.kind = CACHE_RRSET, .rank = RANK_ANSWER, .ttl_s = 3600,
					  .n_rdata = 1, .data = rdata, .data_len = sizeof(rdata)},
			};
		if (cache_stash_many(cache, puts, n, now_s) != 0)
			j->misses += n;
		j->ops += n;
	}
	return NULL;
}

#ifdef HAVE_CACHE_READ
static int on_read(void *arg, const struct cache_entry *e)
{
	*(unsigned long *)arg += e->data_len;
	return 0;
}
#endif

static void *lookup_run(void *arg)
{
	struct job *j = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(j->cpu + 1);
	unsigned long sink = 0;
	pin(j->cpu);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (j->use_read == 3) {
			for (int k = 0; k < FINDS_PER_ARENA; k++)
				sink += control[xorshift(&seed) % control_bytes];
			j->ops += FINDS_PER_ARENA;
			continue;
		}
		struct arena *a = arena_create(ARENA_CAP);
		for (int k = 0; k < FINDS_PER_ARENA; k++) {
			const uint8_t *name = names[xorshift(&seed) % n_names];
			int rc;
#ifdef HAVE_CACHE_READ_HOLD
			if (j->use_read == 2 && k % READ_BATCH == 0) {
				if (k > 0)
					cache_read_release(cache);
				cache_read_hold(cache);
			}
#endif
#ifdef HAVE_CACHE_READ
			if (j->use_read)
				rc = cache_read(cache, name, 1, now_s, on_read, &sink);
			else
#endif
			{
				struct cache_entry e = {0};
				rc = cache_find(cache, name, 1, now_s, a, &e);
				sink += e.data_len;
			}
			if (rc != 0)
				j->misses++;
		}
#ifdef HAVE_CACHE_READ_HOLD
		if (j->use_read == 2)
			cache_read_release(cache);
#endif
		arena_destroy(a);
		j->ops += FINDS_PER_ARENA;
	}
	return (void *)(uintptr_t)(sink & 1);
}

/* Run @n_threads copies of @fn (for @seconds if > 0, else to completion); ops per second. */
static double run(void *(*fn)(void *), int n_threads, double seconds, int use_read, const char *label)
{
	pthread_t t[THREADS_MAX];
	struct job jobs[THREADS_MAX];
	unsigned long ops = 0, misses = 0;
	atomic_store(&stop, 0);
	double t0 = mono_s();
	for (int i = 0; i < n_threads; i++) {
		jobs[i] = (struct job){.cpu = i, .use_read = use_read,
				       .first = n_names / (size_t)n_threads * (size_t)i,
				       .count = n_names / (size_t)n_threads};
		pthread_create(&t[i], NULL, fn, &jobs[i]);
	}
	if (seconds > 0) {
		usleep((useconds_t)(seconds * 1e6));
		atomic_store(&stop, 1);
	}
	for (int i = 0; i < n_threads; i++) {
		pthread_join(t[i], NULL);
		ops += jobs[i].ops;
		misses += jobs[i].misses;
	}
	double rate = (double)ops / (mono_s() - t0);
	printf("%s_%dt %.0f\n", label, n_threads, rate);
	if (misses)
		printf("%s_%dt_misses %lu\n", label, n_threads, misses);
	return rate;
}

/* Bytes of the cache files in @dir/1t (the one the lookups read), at least 1 MiB. */
static size_t cache_bytes_in_use(const char *dir)
{
	char cmd[4200];
	unsigned long kib = 0;
	snprintf(cmd, sizeof(cmd), "du -sk '%s/1t'", dir);
	FILE *p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%lu", &kib) != 1)
			kib = 0;
		pclose(p);
	}
	return (kib < 1024 ? 1024 : kib) * 1024;
}

/* Insert every name into a fresh cache in @dir, with @n_threads writers. */
static double fill(const char *dir, int n_threads)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%dt", dir, n_threads);
	if (cache_open(&cache, path, (size_t)n_names * 1024 + (64u << 20)) != 0) {
		fprintf(stderr, "cachebench: cannot open a cache in %s\n", path);
		exit(1);
	}
	return run(insert_run, n_threads, 0, 0, "inserts_per_s");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: cachebench DIR N_RECORDS SECONDS\n");
		return 2;
	}
	n_names = strtoul(argv[2], NULL, 10);
	double seconds = atof(argv[3]);
	names = calloc(n_names, NAME_BYTES);
	if (n_names == 0 || !names)
		return 2;
	for (size_t i = 0; i < n_names; i++)
		make_name(names[i], i);
	now_s = clock_wall_s();

	double ins2 = fill(argv[1], 2);
	cache_close(cache);
	double ins1 = fill(argv[1], 1);
	printf("inserts_ratio %.3f\n", ins2 / ins1);
	printf("records %zu\n", cache_count(cache));

	/* fault the map's pages in first (LMDB reads through mmap), so that no run pays for it */
	run(lookup_run, 2, seconds / 2, 0, "warmup_finds_per_s");
	double f1 = run(lookup_run, 1, seconds, 0, "finds_per_s");
	double f2 = run(lookup_run, 2, seconds, 0, "finds_per_s");
	printf("finds_ratio %.3f\n", f2 / f1);
#ifdef HAVE_CACHE_READ
	double r1 = run(lookup_run, 1, seconds, 1, "reads_per_s");
	double r2 = run(lookup_run, 2, seconds, 1, "reads_per_s");
	printf("reads_ratio %.3f\n", r2 / r1);
#endif
#ifdef HAVE_CACHE_READ_HOLD
	double h1 = run(lookup_run, 1, seconds, 2, "held_reads_per_s");
	double h2 = run(lookup_run, 2, seconds, 2, "held_reads_per_s");
	printf("held_reads_ratio %.3f\n", h2 / h1);
#endif

	/* the control: as many bytes as the cache's map holds, read at random */
	control_bytes = cache_bytes_in_use(argv[1]);
	control = malloc(control_bytes);
	if (control) {
		memset(control, 1, control_bytes);
		double c1 = run(lookup_run, 1, seconds, 3, "control_reads_per_s");
		double c2 = run(lookup_run, 2, seconds, 3, "control_reads_per_s");
		printf("control_reads_ratio %.3f\n", c2 / c1);
	}
	cache_close(cache);
	return 0;
}
