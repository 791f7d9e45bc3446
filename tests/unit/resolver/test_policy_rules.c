/* tests for tern.rule (resolver/policy.c): declarative rules checked in C
 * before on_query, through the fast path's entry (policy_fast_query): the
 * first rule that matches decides (pass sends the cached answer, anything
 * else goes to the full path), names match the name and below it whatever
 * the case, types and clients narrow a rule, a script with rules only never
 * calls Lua, and bad rule arguments are refused at load with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/wire.h"
#include "resolver/config.h"
#include "resolver/policy.h"
#include "resolver/worker.h"

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/tern-test-rules-XXXXXX.lua");
	assert_non_null(path);
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

struct fixture {
	struct worker w;
	struct config cfg;
	char *script;
};

static void start(struct fixture *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	f->script = temp_file(text);
	f->cfg.policy_path = f->script;
	f->cfg.policy_memory_max = 16 * 1024 * 1024;
	f->cfg.policy_instructions_max = 1000000;
	f->cfg.policy_timeout_ms = 100;
	f->w.cfg = &f->cfg;
	assert_int_equal(uv_loop_init(&f->w.loop), 0);
	assert_int_equal(policy_worker_init(&f->w), 0);
}

static void stop(struct fixture *f)
{
	policy_worker_stop(&f->w);
	uv_run(&f->w.loop, UV_RUN_DEFAULT);
	policy_worker_free(&f->w);
	uv_loop_close(&f->w.loop);
	unlink(f->script);
	free(f->script);
}

/* The fast path's verdict for a query of @name (wire form from text, as sent:
 * case kept) and @type from the IPv4 client @client. */
static enum policy_fast ask(struct fixture *f, const char *name, uint16_t type, const char *client)
{
	uint8_t qname[NAME_MAX_WIRE], q[512];
	assert_true(name_from_text(name, qname) >= 0);
	struct msg_builder b;
	mb_init(&b, q, sizeof(q), 0x1234, FLAG_RD);
	mb_question(&b, qname, type, CLASS_IN);
	size_t len = mb_finish(&b);
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5353) };
	assert_int_equal(inet_pton(AF_INET, client, &peer.sin_addr), 1);
	return policy_fast_query(&f->w, q, len, (struct sockaddr *)&peer);
}

#define PASS POLICY_FAST_PASS
#define FULL POLICY_FAST_FULL

static void test_names_match_the_name_and_below(void **state)
{
	(void)state;
	struct fixture f;
	start(&f, "tern.rule{ names = { \"ads.example\", \"Tracker.Test.\" }, "
		  "action = tern.nxdomain() }\n");
	assert_int_equal(ask(&f, "ads.example", TYPE_A, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "x.y.ADS.Example.", TYPE_A, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "tracker.test", TYPE_AAAA, "192.0.2.1"), FULL);
	/* on label boundaries only; parents are not covered */
	assert_int_equal(ask(&f, "xads.example", TYPE_A, "192.0.2.1"), PASS);
	assert_int_equal(ask(&f, "example", TYPE_A, "192.0.2.1"), PASS);
	assert_int_equal(ask(&f, "ads.example.org", TYPE_A, "192.0.2.1"), PASS);
	assert_int_equal(ask(&f, ".", TYPE_NS, "192.0.2.1"), PASS);
	/* a label with bytes text escapes takes the slower way, same answer */
	assert_int_equal(ask(&f, "a\\032b.ads.example", TYPE_A, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "a\\.ads.example", TYPE_A, "192.0.2.1"), PASS);
	struct policy_stats s = policy_stats_of(&f.w);
	assert_int_equal(s.calls, 0); /* no Lua per query */
	assert_int_equal(s.passed, 5);
	stop(&f);
}

/* The memo of recent names' matches: many names, asked again after they
 * pushed each other out, and case variants, keep their verdicts. */
static void test_recent_names_keep_their_verdicts(void **state)
{
	(void)state;
	struct fixture f;
	start(&f, "tern.rule{ types = { \"MX\" }, action = tern.refuse() }\n"
		  "tern.rule{ names = { \"ads.example\" }, types = { \"A\" }, action = tern.nodata() }\n"
		  "tern.rule{ names = { \"b.ads.example\" }, action = tern.pass() }\n"
		  "tern.rule{ names = { \"ads.example\" }, action = tern.nxdomain() }\n");
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3000; i++) {
			char in[64], out[64];
			snprintf(in, sizeof(in), round == 1 ? "N%d.ADS.example" : "n%d.ads.example", i);
			snprintf(out, sizeof(out), "n%d.ads.example.net", i);
			assert_int_equal(ask(&f, in, TYPE_AAAA, "192.0.2.1"), FULL);
			assert_int_equal(ask(&f, out, TYPE_AAAA, "192.0.2.1"), PASS);
		}
		assert_int_equal(ask(&f, "x.b.ads.example", TYPE_AAAA, "192.0.2.1"), PASS);
		assert_int_equal(ask(&f, "x.b.ads.example", TYPE_A, "192.0.2.1"), FULL);
		assert_int_equal(ask(&f, "x.b.ads.example", TYPE_MX, "192.0.2.1"), FULL);
		/* longer than the memo keeps: the same verdicts */
		const char *longer = "a-rather-long-label-here.and-another-long-one.b.ads.example";
		assert_int_equal(ask(&f, longer, TYPE_AAAA, "192.0.2.1"), PASS);
		assert_int_equal(ask(&f, longer + 2, TYPE_AAAA, "192.0.2.1"), PASS);
		assert_int_equal(ask(&f, longer + 25, TYPE_AAAA, "192.0.2.1"), PASS);
		assert_int_equal(ask(&f, "a-rather-long-label-here.and-another-long-one.ads.example",
				     TYPE_AAAA, "192.0.2.1"), FULL);
	}
	assert_int_equal(policy_stats_of(&f.w).calls, 0);
	stop(&f);
}

static void test_types_and_clients_narrow_a_rule(void **state)
{
	(void)state;
	struct fixture f;
	start(&f, "tern.rule{ names = tern.nameset{ \"ads.example\" }, types = { \"AAAA\", 65 }, "
		  "action = tern.nodata() }\n"
		  "tern.rule{ clients = tern.prefixset{ \"10.0.0.0/8\" }, types = \"TXT\", "
		  "action = tern.refuse() }\n"
		  "tern.rule{ clients = { \"198.51.100.0/24\", \"2001:db8::/32\" }, "
		  "action = tern.refuse() }\n");
	assert_int_equal(ask(&f, "ads.example", TYPE_AAAA, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "ads.example", 65, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "ads.example", TYPE_A, "192.0.2.1"), PASS);
	assert_int_equal(ask(&f, "any.test", TYPE_TXT, "10.1.2.3"), FULL);
	assert_int_equal(ask(&f, "any.test", TYPE_A, "10.1.2.3"), PASS);
	assert_int_equal(ask(&f, "any.test", TYPE_TXT, "192.0.2.1"), PASS);
	assert_int_equal(ask(&f, "any.test", TYPE_A, "198.51.100.7"), FULL);
	stop(&f);
}

static void test_first_match_wins_then_on_query(void **state)
{
	(void)state;
	struct fixture f;
	start(&f, "tern.rule{ names = { \"ok.ads.example\" }, action = tern.pass() }\n"
		  "tern.rule{ names = { \"ads.example\" }, action = tern.nxdomain() }\n"
		  "function on_query(q)\n"
		  "  if q.name == \"refused.test\" then return tern.refuse() end\n"
		  "  return tern.pass()\n"
		  "end\n");
	/* the pass rule comes first: on_query does not run either */
	assert_int_equal(ask(&f, "www.ok.ads.example", TYPE_A, "192.0.2.1"), PASS);
	assert_int_equal(policy_stats_of(&f.w).calls, 0);
	assert_int_equal(ask(&f, "www.ads.example", TYPE_A, "192.0.2.1"), FULL);
	assert_int_equal(policy_stats_of(&f.w).calls, 0);
	/* no rule matches: on_query decides */
	assert_int_equal(ask(&f, "refused.test", TYPE_A, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "other.test", TYPE_A, "192.0.2.1"), PASS);
	struct policy_stats s = policy_stats_of(&f.w);
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.ruled, 1); /* the pass; the nxdomain is counted by the full path */
	stop(&f);
}

static void test_rule_with_answer_and_a_blocklist_file(void **state)
{
	(void)state;
	char *bl = temp_file("# list\nads.example\n0.0.0.0 tracker.test\n");
	char script[512];
	snprintf(script, sizeof(script),
		 "local blocked = tern.nameset(\"%s\")\n"
		 "tern.rule{ names = blocked, answer = { \"A 0.0.0.0\", \"AAAA ::\" }, ttl = 30 }\n",
		 bl);
	struct fixture f;
	start(&f, script);
	assert_int_equal(ask(&f, "a.tracker.test", TYPE_A, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "ads.example", TYPE_MX, "192.0.2.1"), FULL);
	assert_int_equal(ask(&f, "example", TYPE_A, "192.0.2.1"), PASS);
	stop(&f);
	unlink(bl);
	free(bl);
}

/* policy_check() of a script with @rule on its line 3: refused, and the
 * message names the file, the line and @why. */
static void refused(const char *rule, const char *why)
{
	char text[512];
	snprintf(text, sizeof(text), "-- rules\n\n%s\n", rule);
	char *path = temp_file(text);
	struct config cfg = { 0 };
	cfg.policy_path = path;
	cfg.policy_memory_max = 16 * 1024 * 1024;
	cfg.policy_instructions_max = 1000000;
	cfg.policy_timeout_ms = 100;
	char err[512], want[256];
	int rc = policy_check(&cfg, err, sizeof(err));
	if (rc == 0)
		fail_msg("accepted: %s", rule);
	snprintf(want, sizeof(want), "%s:3: ", path);
	if (!strstr(err, want) || !strstr(err, why))
		fail_msg("%s: '%s' lacks '%s' or '%s'", rule, err, want, why);
	unlink(path);
	free(path);
}

static void test_bad_rules_are_refused_with_file_and_line(void **state)
{
	(void)state;
	refused("tern.rule{ names = { \"a.example\" } }", "needs an action");
	refused("tern.rule{ nmaes = { \"a.example\" }, action = tern.refuse() }", "'nmaes'");
	refused("tern.rule{ [1] = 2, action = tern.refuse() }", "unknown field 'number'");
	refused("tern.rule{ names = 7, action = tern.refuse() }", "names must be");
	refused("tern.rule{ names = { \"a..b\" }, action = tern.refuse() }", "not a domain name");
	refused("tern.rule{ names = { {} }, action = tern.refuse() }", "string expected");
	refused("tern.rule{ types = { \"BOGUS\" }, action = tern.refuse() }", "'BOGUS'");
	refused("tern.rule{ types = { 70000 }, action = tern.refuse() }", "not a record type");
	refused("tern.rule{ types = { {} }, action = tern.refuse() }", "a table is not");
	refused("tern.rule{ clients = { \"10.0.0.0/99\" }, action = tern.refuse() }",
		"not ADDR or ADDR/BITS");
	refused("tern.rule{ clients = tern.nameset{ \"a.b\" }, action = tern.refuse() }",
		"clients must be");
	refused("tern.rule{ action = 99 }", "action must be");
	refused("tern.rule{ action = tern.keep({}) }", "action must be");
	refused("tern.rule{ action = tern.answer(\"A 192.0.2.1\") }", "answer = {...}");
	refused("tern.rule{ answer = { \"MX 10 mail.example\" } }", "is not a record");
	refused("tern.rule{ answer = { 1 } }", "record 1 is not a string");
	refused("tern.rule{ answer = \"A 192.0.2.1\", action = tern.refuse() }",
		"answer with an action");
	refused("tern.rule{ action = tern.refuse(), ttl = 5 }", "ttl without answer");
	refused("tern.rule{ answer = \"A 192.0.2.1\", ttl = 1.5 }", "ttl must be");
	refused("tern.rule(\"x\")", "table expected");
	refused("for i = 1, 1025 do tern.rule{ action = tern.pass() } end", "more than 1024 rules");
}

static void test_rule_outside_load_time_fails_the_call(void **state)
{
	(void)state;
	struct fixture f;
	start(&f, "function on_query(q) tern.rule{ action = tern.refuse() } return tern.pass() end\n");
	assert_int_equal(ask(&f, "a.test", TYPE_A, "192.0.2.1"), FULL); /* an error: handed over */
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_match_the_name_and_below),
		cmocka_unit_test(test_recent_names_keep_their_verdicts),
		cmocka_unit_test(test_types_and_clients_narrow_a_rule),
		cmocka_unit_test(test_first_match_wins_then_on_query),
		cmocka_unit_test(test_rule_with_answer_and_a_blocklist_file),
		cmocka_unit_test(test_bad_rules_are_refused_with_file_and_line),
		cmocka_unit_test(test_rule_outside_load_time_fails_the_call),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
