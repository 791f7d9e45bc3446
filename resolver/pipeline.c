/* resolver/pipeline: the request path, in order. Start reading here.
 *
 *   request    (one client message):  admit -> policy -> local -> lookup --hit--> filter -> answer
 *                                                                \-miss: resolve (wait) -> filter -> answer
 *   resolution (name, type):          iterate -> validate -> finish (wake every waiter)
 *
 * Parsing happens in request_start() before the first stage; the transport
 * sends what the answer stage built. Records are stored in the cache by
 * iterate as it learns them (resolver/store.c), since referrals and glue are
 * needed before the resolution ends. */
#include "resolver/pipeline.h"

#include "base/log.h"
#include "proto/wire.h"
#include "resolver/admit.h"
#include "resolver/answer.h"
#include "resolver/iterate.h"
#include "resolver/local.h"
#include "resolver/lookup.h"
#include "resolver/policy.h"
#include "resolver/request.h"
#include "resolver/resolution.h"
#include "resolver/server.h"
#include "resolver/validate.h"

struct request_stage {
	const char *name;
	request_stage_fn run;
};

static const struct request_stage request_stages[] = {
	{ "admit", admit_run },     /* admit.c: ACL, opcode, class, EDNS version */
	{ "policy", policy_query_run }, /* policy.c: the script's on_query (optional) */
	{ "local", local_run },     /* local.c: resolver.arpa (DDR), localhost */
	{ "lookup", lookup_run },   /* lookup.c: answer from cache/ when fresh */
	{ "resolve", resolve_run }, /* lookup.c: wait on a (coalesced) resolution */
	{ "filter", policy_answer_run }, /* policy.c: the script's on_answer (optional) */
	{ "answer", answer_run },   /* answer.c: assemble, EDNS, truncate */
};
#define N_REQUEST_STAGES (int)(sizeof(request_stages) / sizeof(request_stages[0]))
#define ANSWER_STAGE (N_REQUEST_STAGES - 1)
#define DECIDED_STAGE (N_REQUEST_STAGES - 2) /* where STEP_ANSWER and STEP_FAIL go */

struct resolution_stage {
	const char *name;
	resolution_stage_fn run;
};

static const struct resolution_stage resolution_stages[] = {
	{ "iterate", iterate_run },   /* iterate.c: referrals, CNAMEs, choice of upstream */
	{ "validate", validate_run }, /* validate.c: DNSSEC verdict (issue #3) */
};
#define N_RESOLUTION_STAGES (int)(sizeof(resolution_stages) / sizeof(resolution_stages[0]))

void pipeline_request_run(struct request *req)
{
	while (req->stage < N_REQUEST_STAGES) {
		enum step step = request_stages[req->stage].run(req);
		switch (step) {
		case STEP_NEXT:
			req->stage++;
			break;
		case STEP_ANSWER:
		case STEP_FAIL:
			if (req->stage == ANSWER_STAGE) {
				req->stage = N_REQUEST_STAGES; /* no reply could be built: drop */
				req->reply_len = 0;
			} else {
				req->stage = req->stage < DECIDED_STAGE ? DECIDED_STAGE : ANSWER_STAGE;
			}
			break;
		case STEP_WAIT:
			return;
		}
	}
	server_reply(req);
}

void pipeline_resolution_run(struct resolution *r)
{
	/* the resolution keeps its position in the iterate state machine; the
	 * stage index is implicit: iterate until it is done, then validate */
	for (int i = 0; i < N_RESOLUTION_STAGES; i++) {
		if (r->state == RES_DONE)
			return;
		enum step step = resolution_stages[i].run(r);
		switch (step) {
		case STEP_NEXT:
			continue;
		case STEP_WAIT:
			return;
		case STEP_ANSWER:
		case STEP_FAIL:
			resolution_finish(r, r->result.rcode, r->result.ede, r->result.ede_text);
			return;
		}
	}
	resolution_finish(r, r->result.rcode, EDE_NONE, NULL);
}
