/* proto/json: a DNS response in the JSON form public resolvers answer with
 * (Google's /resolve, Cloudflare's application/dns-json), for a person with a
 * browser or curl:
 *   {"Status":0,"TC":false,"RD":true,"RA":true,"AD":false,"CD":false,
 *    "Question":[{"name":"example.com.","type":1}],
 *    "Answer":[{"name":"example.com.","type":1,"TTL":300,"data":"192.0.2.1"}],
 *    "Authority":[...]}
 * Status is the RCODE (with EDNS's extended bits), names are absolute, data is
 * the RDATA's presentation form (ldns: not the hot path). Answer and Authority
 * are left out when empty. man/ternd.conf.5 documents it for users. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/** Write the JSON of the DNS message @wire into @out (NUL-terminated).
 * Returns the length, or -1 when the message does not parse or @cap is too small. */
long dns_json_write(const uint8_t *wire, size_t len, char *out, size_t cap);
