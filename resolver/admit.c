/* resolver/admit: the first stage. Refuses what we will not do, cheaply. */
#include "resolver/admit.h"

#include "base/arena.h"
#include "resolver/config.h"
#include "resolver/request.h"
#include "resolver/worker.h"

static enum step fail(struct request *req, uint8_t rcode, uint16_t ede, const char *text)
{
	struct result *res = arena_zalloc(req->arena, sizeof(*res));
	if (!res)
		return STEP_FAIL; /* the answer stage turns a missing result into SERVFAIL */
	res->rcode = rcode;
	res->ede = ede;
	res->ede_text = text;
	req->result = res;
	return STEP_FAIL;
}

enum step admit_run(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	if (!config_acl_allows(cfg, (const struct sockaddr *)&req->peer)) {
		req->w->stats.refused++;
		return fail(req, RCODE_REFUSED, EDE_PROHIBITED, NULL);
	}
	/* RFC 6891 6.1.3: an EDNS version we do not implement gets BADVERS */
	if (req->q.has_opt && req->q.edns_version != 0)
		return fail(req, RCODE_BADVERS, EDE_NONE, NULL);
	if (FLAGS_OPCODE(req->q.hdr.flags) != 0)
		return fail(req, RCODE_NOTIMP, EDE_NONE, NULL);
	if (req->q.qclass != CLASS_IN)
		return fail(req, RCODE_REFUSED, EDE_NOT_SUPPORTED, "only class IN");
	switch (req->q.qtype) {
	case TYPE_AXFR:
	case TYPE_IXFR:
	case TYPE_OPT:
	case 0:
		return fail(req, RCODE_REFUSED, EDE_NOT_SUPPORTED, "query type not served");
	}
	return STEP_NEXT;
}
