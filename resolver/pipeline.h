/* resolver/pipeline: the order of the stages, written once. */
#pragma once

struct request;
struct resolution;

/** What a stage tells the pipeline. Never ORed together. */
enum step {
	STEP_NEXT,   /* done here; run the next stage */
	STEP_ANSWER, /* the reply is decided; skip to answer */
	STEP_WAIT,   /* parked on upstream, a timer or a resolution; re-run this stage on wake-up */
	STEP_FAIL,   /* rcode and EDE are set; skip to answer */
};

typedef enum step (*request_stage_fn)(struct request *req);
typedef enum step (*resolution_stage_fn)(struct resolution *r);

/** Run @req from its current stage until it waits or its reply is sent. */
void pipeline_request_run(struct request *req);
/** Run @r from its current stage until it waits or finishes. */
void pipeline_resolution_run(struct resolution *r);
