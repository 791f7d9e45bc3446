/* tests for resolver/config: defaults, the order of sources (defaults, file,
 * flags), address and prefix parsing, errors that name file and line, root
 * hints, and --check-config. Output is captured with config_load_io(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYSTEM_HINTS "/usr/share/dns/root.hints"
#define ARGS_MAX 32

/* One config_load_io() run: its verdict, what it printed, and the config. */
struct run {
	enum config_action action;
	struct config c;
	char *out, *err;
	size_t out_len, err_len;
};

static struct run *run_argv(int argc, char **argv)
{
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	FILE *out = open_memstream(&r->out, &r->out_len);
	FILE *err = open_memstream(&r->err, &r->err_len);
	assert_non_null(out);
	assert_non_null(err);
	r->action = config_load_io(&r->c, argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

/* run("--threads", "4", NULL): argv[0] is "ternd". */
static struct run *run(const char *first, ...)
{
	char *argv[ARGS_MAX] = { "ternd" };
	int argc = 1;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < ARGS_MAX);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	return run_argv(argc, argv);
}

static void run_free(struct run *r)
{
	config_free(&r->c);
	config_free(&r->c); /* documented as safe twice */
	free(r->out);
	free(r->err);
	free(r);
}

/* A temporary file holding @text; the caller unlinks and frees the path. */
static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/tern-test-config-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void temp_free(char *path)
{
	unlink(path);
	free(path);
}

static const char small_hints[] =
	"; a comment\n"
	"$TTL 3600000\n"
	".            NS    A.Example.\n"
	".            NS    b.example.\n"
	"A.EXAMPLE.   A     192.0.2.1\n"
	"a.example.   AAAA  2001:db8::1\n"
	"\n"
	"b.example.   A     192.0.2.2\n"
	"c.example.   A     192.0.2.3\n"; /* not named by ". NS": ignored */

static const char loopback_hints[] =
	". NS a.root.test.\n"
	". NS b.root.test.\n"
	"a.root.test. A 127.0.0.2\n"
	"b.root.test. AAAA ::1\n";

/* Most tests use the small hints file so they do not depend on dns-root-data. */
static char *hints_path;

static int setup(void **state)
{
	hints_path = temp_file(small_hints);
	return 0;
}

static int teardown(void **state)
{
	temp_free(hints_path);
	return 0;
}

static bool sockaddr_is(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		struct in_addr want;
		return inet_pton(AF_INET, addr, &want) == 1 &&
		       sin->sin_addr.s_addr == want.s_addr && ntohs(sin->sin_port) == port;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		struct in6_addr want;
		return inet_pton(AF_INET6, addr, &want) == 1 &&
		       memcmp(&sin6->sin6_addr, &want, 16) == 0 && ntohs(sin6->sin6_port) == port;
	}
	return false;
}

static struct sockaddr_storage make_addr(const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	assert_int_equal(config_parse_addr(text, 53, &ss, &len), 0);
	return ss;
}

static void test_config_defaults(void **state)
{
	if (access(SYSTEM_HINTS, R_OK) != 0)
		skip(); /* apt-get install dns-root-data */
	struct run *r = run(NULL);
	const struct config *c = &r->c;
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(r->err_len, 0);
	assert_int_equal(r->out_len, 0);
	assert_null(c->config_path);
	assert_int_equal(c->n_listen, 2);
	assert_true(sockaddr_is(&c->listen[0].ss, "127.0.0.1", 53));
	assert_true(c->listen[0].is_default);
	assert_int_equal(c->listen[0].len, sizeof(struct sockaddr_in));
	assert_true(sockaddr_is(&c->listen[1].ss, "::1", 53));
	assert_true(c->listen[1].is_default);
	assert_int_equal(c->listen[1].len, sizeof(struct sockaddr_in6));
	assert_string_equal(c->root_hints_path, SYSTEM_HINTS);
	assert_string_equal(c->cache_dir, "/var/cache/tern");
	assert_int_equal(c->cache_size, 512 * 1024 * 1024);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(c->threads, cores > 256 ? 256 : cores);
	assert_int_equal(c->qmin, QMIN_RELAXED);
	assert_true(c->upstream_ipv4);
	assert_true(c->upstream_ipv6);
	assert_false(c->hints_on_loopback);
	assert_false(c->allow_loopback_upstream);
	assert_int_equal(c->ttl_min_s, 0);
	assert_int_equal(c->ttl_max_s, 86400);
	assert_int_equal(c->neg_ttl_max_s, 3600);
	assert_int_equal(c->edns_udp_size, 1232);
	assert_int_equal(c->tcp_idle_timeout_ms, 10000);
	assert_int_equal(c->tcp_conn_max, 1000);
	assert_int_equal(c->n_acl, 2);
	assert_int_equal(c->acl[0].family, AF_INET);
	assert_int_equal(c->acl[0].bits, 8);
	assert_int_equal(c->acl[1].family, AF_INET6);
	assert_int_equal(c->acl[1].bits, 128);
	assert_int_equal(c->verbosity, 2);
	assert_false(c->check_only);
	run_free(r);
}

static void test_config_every_flag_both_forms(void **state)
{
	struct run *r = run("--root-hints", hints_path, "--threads=3", "--cache-dir", "/tmp/x",
			    "--cache-size=64M", "--qname-minimisation", "strict", "--upstream-ipv4=no",
			    "--upstream-ipv6", "yes", "--allow-loopback-upstream", "yes", "--ttl-min=5",
			    "--ttl-max", "600", "--negative-ttl-max", "300", "--edns-udp-size=1400",
			    "--tcp-idle-timeout", "2500", "--tcp-connections-max=50", "--verbosity", "3",
			    "--listen=127.0.0.1:5300", "--allow", "10.0.0.0/8", NULL);
	const struct config *c = &r->c;
	assert_string_equal(r->err, "");
	assert_int_equal(r->action, CONFIG_RUN);
	assert_string_equal(c->root_hints_path, hints_path);
	assert_int_equal(c->threads, 3);
	assert_string_equal(c->cache_dir, "/tmp/x");
	assert_int_equal(c->cache_size, 64 * 1024 * 1024);
	assert_int_equal(c->qmin, QMIN_STRICT);
	assert_false(c->upstream_ipv4);
	assert_true(c->upstream_ipv6);
	assert_true(c->allow_loopback_upstream);
	assert_int_equal(c->ttl_min_s, 5);
	assert_int_equal(c->ttl_max_s, 600);
	assert_int_equal(c->neg_ttl_max_s, 300);
	assert_int_equal(c->edns_udp_size, 1400);
	assert_int_equal(c->tcp_idle_timeout_ms, 2500);
	assert_int_equal(c->tcp_conn_max, 50);
	assert_int_equal(c->verbosity, 3);
	assert_int_equal(c->n_listen, 1);
	assert_true(sockaddr_is(&c->listen[0].ss, "127.0.0.1", 5300));
	assert_false(c->listen[0].is_default);
	assert_int_equal(c->n_acl, 1);
	run_free(r);
}

static void test_config_flags_override_file(void **state)
{
	char *conf = temp_file("# a comment line\n"
			       "   threads 2   # trailing comment\n"
			       "\n"
			       "qname-minimisation\tstrict\n"
			       "cache-size 2G\n"
			       "verbosity 1\n"
			       "verbosity 0\n"); /* not repeatable: last wins */
	struct run *r = run("--threads", "7", "--config", conf, "--root-hints", hints_path, NULL);
	assert_string_equal(r->err, "");
	assert_int_equal(r->action, CONFIG_RUN);
	assert_string_equal(r->c.config_path, conf);
	assert_int_equal(r->c.threads, 7);                 /* the flag, though it came first */
	assert_int_equal(r->c.qmin, QMIN_STRICT);          /* the file */
	assert_int_equal(r->c.cache_size, (size_t)2 << 30); /* the file */
	assert_int_equal(r->c.verbosity, 0);
	run_free(r);
	temp_free(conf);
}

static void test_config_parse_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(config_parse_addr("192.0.2.1:5353", 53, &ss, &len), 0);
	assert_true(sockaddr_is(&ss, "192.0.2.1", 5353));
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(config_parse_addr("192.0.2.1", 53, &ss, &len), 0);
	assert_true(sockaddr_is(&ss, "192.0.2.1", 53));
	assert_int_equal(config_parse_addr("[2001:db8::1]:853", 53, &ss, &len), 0);
	assert_true(sockaddr_is(&ss, "2001:db8::1", 853));
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(config_parse_addr("[::1]", 53, &ss, &len), 0);
	assert_true(sockaddr_is(&ss, "::1", 53));
	assert_int_equal(config_parse_addr("::1", 5300, &ss, &len), 0); /* bare V6 */
	assert_true(sockaddr_is(&ss, "::1", 5300));
	assert_int_equal(config_parse_addr("[fe80::1%1]:53", 53, &ss, &len), 0);
	assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 1);

	static const char *const bad[] = {
		"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:-1",
		"[::1]:", "[::1]:99999", "[::1", "[::1]53", "[127.0.0.1]:53", "[]:53", "",
		"localhost", "localhost:53", "127.1", "1.2.3.4.5", "::g", ":53", "1.2.3.4 ",
		"[::1]:5 3", "fe80::1%nosuchinterface0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_addr(bad[i], 53, &ss, &len) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_config_listen_replaces_default(void **state)
{
	struct run *r = run("--root-hints", hints_path, "--listen", "127.0.0.1:5300", "--listen",
			    "[::1]:5300", "--listen", "192.0.2.1", NULL);
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(r->c.n_listen, 3);
	assert_true(sockaddr_is(&r->c.listen[0].ss, "127.0.0.1", 5300));
	assert_true(sockaddr_is(&r->c.listen[1].ss, "::1", 5300));
	assert_true(sockaddr_is(&r->c.listen[2].ss, "192.0.2.1", 53));
	for (int i = 0; i < 3; i++)
		assert_false(r->c.listen[i].is_default);
	run_free(r);
}

static void test_config_flag_lists_replace_file_lists(void **state)
{
	char *conf = temp_file("listen 127.0.0.1:1\nlisten 127.0.0.1:2\nallow 10.0.0.0/8\n");
	/* the file's lists accumulate and replace the defaults */
	struct run *r = run("--config", conf, "--root-hints", hints_path, NULL);
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(r->c.n_listen, 2);
	assert_true(sockaddr_is(&r->c.listen[1].ss, "127.0.0.1", 2));
	assert_int_equal(r->c.n_acl, 1);
	run_free(r);

	/* a flag replaces the file's list instead of adding to it */
	r = run("--config", conf, "--root-hints", hints_path, "--listen", "127.0.0.1:3", NULL);
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(r->c.n_listen, 1);
	assert_true(sockaddr_is(&r->c.listen[0].ss, "127.0.0.1", 3));
	assert_int_equal(r->c.n_acl, 1); /* no --allow: the file's list stands */
	run_free(r);
	temp_free(conf);
}

static void test_config_listen_errors(void **state)
{
	struct run *r = run("--root-hints", hints_path, "--listen", "127.0.0.1:99999", "--listen",
			    "garbage", "--listen", "::1", "--listen", "[::1]:53", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_non_null(strstr(r->err, "ternd: --listen: '127.0.0.1:99999' is not ADDR"));
	assert_non_null(strstr(r->err, "ternd: --listen: 'garbage' is not ADDR"));
	assert_non_null(strstr(r->err, "ternd: --listen: '[::1]:53' is listed twice\n"));
	run_free(r);
}

static void test_config_file_errors_name_file_and_line(void **state)
{
	char *conf = temp_file("threads 4\n"
			       "\n"
			       "foo bar\n"
			       "# fine\n"
			       "threads abc\n"
			       "cache-size\n"
			       "config /etc/other.conf\n"
			       "check-config yes\n"
			       "upstream-ipv4 maybe\n"
			       "qname-minimisation loose\n"
			       "allow 10.0.0.0/33\n"
			       "edns-udp-size 100\n"
			       "cache-size 1023K");
	struct run *r = run("--config", conf, "--root-hints", hints_path, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	char want[4096];
	snprintf(want, sizeof(want),
		 "%1$s:3: unknown key 'foo'\n"
		 "%1$s:5: threads: 'abc' is not a number between 1 and 256\n"
		 "%1$s:6: cache-size: missing value\n"
		 "%1$s:7: 'config' is only allowed on the command line\n"
		 "%1$s:8: 'check-config' is only allowed on the command line\n"
		 "%1$s:9: upstream-ipv4: 'maybe' is not yes or no\n"
		 "%1$s:10: qname-minimisation: 'loose' is not off, relaxed or strict\n"
		 "%1$s:11: allow: '10.0.0.0/33' is not an address or ADDR/BITS prefix\n"
		 "%1$s:12: edns-udp-size: '100' is not a number between 512 and 4096\n"
		 "%1$s:13: cache-size: '1023K' is not a size of at least 1M (bytes, or a number "
		 "with K, M or G)\n",
		 conf);
	assert_string_equal(r->err, want); /* every error, in order, nothing else */
	assert_string_equal(r->out, "");
	run_free(r);
	temp_free(conf);
}

static void test_config_too_many_errors_are_capped(void **state)
{
	char text[100 * 8 + 1] = "";
	for (int i = 0; i < 100; i++)
		strcat(text, "bogus 1\n");
	char *conf = temp_file(text);
	struct run *r = run("--config", conf, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	int lines = 0;
	for (const char *p = r->err; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 51);
	assert_non_null(strstr(r->err, "too many errors"));
	run_free(r);
	temp_free(conf);
}

static void test_config_errors_escape_binary(void **state)
{
	char text[2000] = "\x1b[31mred\x80 1\n";
	memset(text + strlen(text), 'k', 1000);
	char *conf = temp_file(text);
	struct run *r = run("--config", conf, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	char want[512];
	snprintf(want, sizeof(want), "%s:1: unknown key '\\x1b[31mred\\x80'\n", conf);
	assert_non_null(strstr(r->err, want));
	snprintf(want, sizeof(want), "%s:2: unknown key 'kkkk", conf);
	const char *long_line = strstr(r->err, want);
	assert_non_null(long_line);
	assert_true(strlen(long_line) < 520); /* bounded, marked with "..." */
	assert_non_null(strstr(long_line, "kkk...\n"));
	run_free(r);
	temp_free(conf);
}

static void test_config_unreadable_file(void **state)
{
	struct run *r = run("--config", "/nonexistent/ternd.conf", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_string_equal(r->err, "/nonexistent/ternd.conf: No such file or directory\n");
	run_free(r);

	r = run("--config", "/tmp", "--root-hints", hints_path, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_string_equal(r->err, "/tmp: Is a directory\n");
	run_free(r);
}

static void test_config_flag_errors(void **state)
{
	struct run *r = run("--bogus", "--threads", "0", "-t", "stray", "--help=yes", "--cache-dir=",
			    "--listen", "--verbosity", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_non_null(strstr(r->err, "ternd: --bogus: unknown flag\n"));
	assert_non_null(strstr(r->err, "ternd: -t: unknown flag\n"));
	assert_non_null(strstr(r->err, "ternd: 'stray': unexpected argument"));
	assert_non_null(strstr(r->err, "ternd: --help: takes no value\n"));
	assert_non_null(strstr(r->err, "ternd: --listen: missing value\n"));
	assert_non_null(strstr(r->err, "ternd: --verbosity: missing value\n"));
	/* the flags that did parse are still checked, to report everything at once */
	assert_non_null(strstr(r->err, "ternd: --threads: '0' is not a number between 1 and 256\n"));
	assert_string_equal(r->out, ""); /* no help despite --help: the flags are wrong */
	run_free(r);

	r = run("--threads", "0", "--cache-dir=", "--threads", "257", "--ttl-min", "-1", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_string_equal(r->err, "ternd: --threads: '0' is not a number between 1 and 256\n"
				    "ternd: --cache-dir: empty value\n"
				    "ternd: --threads: '257' is not a number between 1 and 256\n"
				    "ternd: --ttl-min: '-1' is not a number between 0 and 2147483647\n");
	run_free(r);
}

static void test_config_cross_checks(void **state)
{
	struct run *r = run("--root-hints", hints_path, "--ttl-min", "100", "--ttl-max", "50",
			    "--upstream-ipv4", "no", "--upstream-ipv6", "no", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_non_null(strstr(r->err, "ternd: ttl-min (100) is greater than ttl-max (50)\n"));
	assert_non_null(strstr(r->err, "ternd: upstream-ipv4 and upstream-ipv6 are both no\n"));
	run_free(r);
}

static void test_config_cache_size_units(void **state)
{
	static const struct {
		const char *text;
		size_t size; /* 0: rejected */
	} cases[] = {
		{ "1M", 1 << 20 }, { "1048576", 1 << 20 }, { "1024k", 1 << 20 }, { "3g", (size_t)3 << 30 },
		{ "1048575", 0 }, { "1023K", 0 }, { "M", 0 }, { "1.5G", 0 }, { "10T", 0 },
		{ "99999999999999999999", 0 }, { "-1M", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run *r = run("--root-hints", hints_path, "--cache-size", cases[i].text, NULL);
		if (cases[i].size) {
			assert_int_equal(r->action, CONFIG_RUN);
			assert_int_equal(r->c.cache_size, cases[i].size);
		} else if (r->action != CONFIG_EXIT_FAIL) {
			fail_msg("accepted cache-size '%s'", cases[i].text);
		}
		run_free(r);
	}
}

static void test_config_hints_from_small_file(void **state)
{
	struct run *r = run("--root-hints", hints_path, NULL);
	const struct config *c = &r->c;
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(c->n_hints, 3);
	static const uint8_t a_name[] = "\x01" "a\x07" "example";
	static const uint8_t b_name[] = "\x01" "b\x07" "example";
	assert_memory_equal(c->hints[0].name, a_name, sizeof(a_name)); /* lowercased */
	assert_true(sockaddr_is(&c->hints[0].ss, "192.0.2.1", 53));
	assert_int_equal(c->hints[0].len, sizeof(struct sockaddr_in));
	assert_memory_equal(c->hints[1].name, a_name, sizeof(a_name));
	assert_true(sockaddr_is(&c->hints[1].ss, "2001:db8::1", 53));
	assert_int_equal(c->hints[1].len, sizeof(struct sockaddr_in6));
	assert_memory_equal(c->hints[2].name, b_name, sizeof(b_name));
	assert_true(sockaddr_is(&c->hints[2].ss, "192.0.2.2", 53));
	assert_false(c->hints_on_loopback);
	assert_false(c->allow_loopback_upstream);
	run_free(r);
}

static void test_config_hints_from_dns_root_data(void **state)
{
	if (access(SYSTEM_HINTS, R_OK) != 0)
		skip();
	struct run *r = run("--root-hints", SYSTEM_HINTS, NULL);
	const struct config *c = &r->c;
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(c->n_hints, 26); /* 13 servers, one A and one AAAA each */
	int n_names = 0, n_v4 = 0;
	for (int i = 0; i < c->n_hints; i++) {
		bool seen = false;
		for (int j = 0; j < i; j++)
			seen |= memcmp(c->hints[i].name, c->hints[j].name, sizeof(c->hints[i].name)) == 0;
		n_names += !seen;
		n_v4 += c->hints[i].ss.ss_family == AF_INET;
	}
	assert_int_equal(n_names, 13);
	assert_int_equal(n_v4, 13);
	static const uint8_t a_root[] = "\x01" "a\x0c" "root-servers\x03" "net";
	assert_memory_equal(c->hints[0].name, a_root, sizeof(a_root));
	assert_true(sockaddr_is(&c->hints[0].ss, "198.41.0.4", 53));
	assert_false(c->hints_on_loopback);
	run_free(r);
}

static void test_config_hints_on_loopback(void **state)
{
	char *lo = temp_file(loopback_hints);
	struct run *r = run("--root-hints", lo, NULL);
	assert_int_equal(r->action, CONFIG_RUN);
	assert_int_equal(r->c.n_hints, 2);
	assert_true(r->c.hints_on_loopback);
	assert_true(r->c.allow_loopback_upstream); /* follows the hints when not set */
	run_free(r);

	r = run("--root-hints", lo, "--allow-loopback-upstream", "no", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_non_null(strstr(r->err, "every root server is on loopback"));
	run_free(r);

	/* one hint off loopback: not all of them are */
	char *mixed = temp_file(". NS a.test.\n. NS b.test.\na.test. A 127.0.0.1\nb.test. A 192.0.2.9\n");
	r = run("--root-hints", mixed, NULL);
	assert_int_equal(r->action, CONFIG_RUN);
	assert_false(r->c.hints_on_loopback);
	assert_false(r->c.allow_loopback_upstream);
	run_free(r);
	temp_free(mixed);
	temp_free(lo);
}

static void test_config_hints_errors(void **state)
{
	char *bad = temp_file(". NS a.test.\n"
			      "a.test. A 192.0.2.1\n"
			      "a.test. A 300.1.1.1\n"
			      "; fine\n"
			      "a.test. AAAA nonsense"); /* no newline at the end */
	struct run *r = run("--root-hints", bad, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	char want[256];
	snprintf(want, sizeof(want), "%s:3: ", bad);
	assert_non_null(strstr(r->err, want));
	snprintf(want, sizeof(want), "%s:5: ", bad);
	assert_non_null(strstr(r->err, want));
	run_free(r);
	temp_free(bad);

	char *none = temp_file(". NS a.test.\nb.test. A 192.0.2.1\n");
	r = run("--root-hints", none, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_non_null(strstr(r->err, "no root server addresses"));
	run_free(r);
	temp_free(none);

	char *v6only = temp_file(". NS a.test.\na.test. AAAA 2001:db8::1\n");
	r = run("--root-hints", v6only, "--upstream-ipv6", "no", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_non_null(strstr(r->err, "no root server address of a family"));
	run_free(r);
	temp_free(v6only);

	r = run("--root-hints", "/nonexistent/root.hints", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_string_equal(r->err, "/nonexistent/root.hints: No such file or directory\n");
	run_free(r);
}

static void test_config_acl(void **state)
{
	struct run *r = run("--root-hints", hints_path, "--allow", "192.0.2.0/24", "--allow",
			    "10.16.0.0/12", "--allow", "2001:db8::/32", "--allow", "198.51.100.7",
			    "--allow", "::ffff:203.0.113.0/120", "--allow", "172.16.99.99/16", NULL);
	assert_int_equal(r->action, CONFIG_RUN);
	const struct config *c = &r->c;
	static const struct {
		const char *addr;
		bool allowed;
	} cases[] = {
		{ "192.0.2.1", true },      { "192.0.3.1", false },     { "10.31.255.255", true },
		{ "10.32.0.0", false },     { "10.15.255.255", false }, { "2001:db8:ffff::1", true },
		{ "2001:db9::1", false },   { "198.51.100.7", true },   { "198.51.100.8", false },
		{ "::ffff:192.0.2.9", true }, /* an IPv4 client on an IPv6 socket */
		{ "::ffff:192.0.3.9", false }, { "203.0.113.77", true }, /* a mapped prefix is IPv4 */
		{ "172.16.0.1", true },     /* host bits past /16 are ignored */
		{ "127.0.0.1", false },     { "::1", false }, /* the defaults were replaced */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = make_addr(cases[i].addr);
		if (config_acl_allows(c, (struct sockaddr *)&ss) != cases[i].allowed)
			fail_msg("%s: expected %s", cases[i].addr, cases[i].allowed ? "allow" : "deny");
	}
	run_free(r);

	/* the default ACL: loopback only */
	r = run("--root-hints", hints_path, NULL);
	struct sockaddr_storage ss = make_addr("127.9.9.9");
	assert_true(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	ss = make_addr("::ffff:127.0.0.1");
	assert_true(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	ss = make_addr("::1");
	assert_true(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	ss = make_addr("192.0.2.1");
	assert_false(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	ss = make_addr("::2");
	assert_false(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	run_free(r);

	r = run("--root-hints", hints_path, "--allow", "0.0.0.0/0", "--allow", "::/0", NULL);
	ss = make_addr("203.0.113.1");
	assert_true(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	ss = make_addr("2001:db8::1");
	assert_true(config_acl_allows(&r->c, (struct sockaddr *)&ss));
	run_free(r);
}

static void test_config_addr_is_loopback(void **state)
{
	static const struct {
		const char *addr;
		bool loopback;
	} cases[] = {
		{ "127.0.0.1", true }, { "127.255.0.9", true }, { "::1", true },
		{ "::ffff:127.0.0.5", true }, { "128.0.0.1", false }, { "126.255.255.255", false },
		{ "::2", false }, { "::", false }, { "::ffff:10.0.0.1", false }, { "::127.0.0.1", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = make_addr(cases[i].addr);
		if (addr_is_loopback((struct sockaddr *)&ss) != cases[i].loopback)
			fail_msg("%s: expected %d", cases[i].addr, cases[i].loopback);
	}
}

static void test_config_check_config(void **state)
{
	struct run *r = run("--check-config", "--root-hints", hints_path, NULL);
	assert_int_equal(r->action, CONFIG_EXIT_OK);
	assert_true(r->c.check_only);
	assert_string_equal(r->out, "ternd: configuration OK\n");
	assert_string_equal(r->err, "");
	run_free(r);

	r = run("--check-config", "--root-hints", "/nonexistent", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_string_equal(r->out, "");
	run_free(r);

	r = run("--check-config", "--root-hints", hints_path, "--threads", "x", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_FAIL);
	assert_string_equal(r->out, "");
	run_free(r);
}

static void test_config_help_and_version(void **state)
{
	struct run *r = run("--version", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_OK);
	assert_string_equal(r->out, "ternd " TERN_VERSION "\n");
	assert_string_equal(r->err, "");
	run_free(r);

	/* help wins over a config file that would fail */
	r = run("--config", "/nonexistent", "--help", NULL);
	assert_int_equal(r->action, CONFIG_EXIT_OK);
	assert_string_equal(r->err, "");
	static const char *const flags[] = {
		"--config FILE", "--listen ADDR", "--root-hints FILE", "--threads N",
		"--cache-dir DIR", "--cache-size SIZE", "--qname-minimisation", "--upstream-ipv4",
		"--upstream-ipv6", "--allow-loopback-upstream", "--ttl-min", "--ttl-max",
		"--negative-ttl-max", "--edns-udp-size", "--tcp-idle-timeout", "--tcp-connections-max",
		"--allow PREFIX", "--verbosity", "--check-config", "--help", "--version",
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(r->out, flags[i]))
			fail_msg("--help does not list %s", flags[i]);
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_every_flag_both_forms),
		cmocka_unit_test(test_config_flags_override_file),
		cmocka_unit_test(test_config_parse_addr),
		cmocka_unit_test(test_config_listen_replaces_default),
		cmocka_unit_test(test_config_flag_lists_replace_file_lists),
		cmocka_unit_test(test_config_listen_errors),
		cmocka_unit_test(test_config_file_errors_name_file_and_line),
		cmocka_unit_test(test_config_too_many_errors_are_capped),
		cmocka_unit_test(test_config_errors_escape_binary),
		cmocka_unit_test(test_config_unreadable_file),
		cmocka_unit_test(test_config_flag_errors),
		cmocka_unit_test(test_config_cross_checks),
		cmocka_unit_test(test_config_cache_size_units),
		cmocka_unit_test(test_config_hints_from_small_file),
		cmocka_unit_test(test_config_hints_from_dns_root_data),
		cmocka_unit_test(test_config_hints_on_loopback),
		cmocka_unit_test(test_config_hints_errors),
		cmocka_unit_test(test_config_acl),
		cmocka_unit_test(test_config_addr_is_loopback),
		cmocka_unit_test(test_config_check_config),
		cmocka_unit_test(test_config_help_and_version),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
