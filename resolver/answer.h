/* resolver/answer: the last stage of a request. Assembles the reply from the
 * result: the client's ID, question and RD/CD flags, RA set, our EDNS with an
 * extended error where one fits, and truncation (TC) when an RRset does not
 * fit the client's size. A request without a result gets SERVFAIL. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "resolver/pipeline.h"

struct request;

enum step answer_run(struct request *req);
/** Build a FORMERR reply for a query that did not parse but has a header.
 * Returns the length written into @out (0: drop instead). */
size_t answer_formerr(const uint8_t *q, size_t q_len, uint8_t *out, size_t cap);
