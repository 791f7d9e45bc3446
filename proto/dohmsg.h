/* proto/dohmsg: an HTTP request to a DoH endpoint (RFC 8484), turned into the
 * DNS query it carries, or into the HTTP status that refuses it:
 *   GET  PATH?dns=BASE64URL                  (no padding; RFC 8484 4.1)
 *   POST PATH  content-type: application/dns-message, the query as the body
 *   GET  PATH?name=NAME[&type=TYPE][&do=1][&cd=1]   the JSON form public
 *        resolvers offer; the answer is JSON (proto/json.h). Also any GET with
 *        "accept: application/dns-json" or "ct=application/dns-json".
 * Pure: no I/O, no allocation; the fuzz target drives it directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define DOH_MEDIA_TYPE "application/dns-message"
#define DOH_JSON_TYPE "application/dns-json"

#define DOH_ENDPOINT_MAX 128 /* longer sub-paths get 404 */

struct doh_query {
	uint8_t wire[HTTP_BODY_MAX]; /* the DNS query */
	size_t len;
	bool json;                   /* answer in the JSON form */
	char endpoint[DOH_ENDPOINT_MAX]; /* the path without its query: @path or a path below it */
	const char *reason;          /* with a status other than 200: why, in a few words */
};

/** Parse @r against the endpoint @path (or a sub-path "@path/NAME", for
 * policy tenants by path, e.g. /dns-query/family). Returns 200 with @q filled, or the
 * 4xx status to answer with (q->reason set). */
int doh_parse(const struct http_req *r, const char *path, struct doh_query *q);
