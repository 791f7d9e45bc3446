/* resolver/nameset: a set of domain names in C, for policy scripts'
 * blocklists: suffix matching ("covers": the name or anything below it) with
 * one hash probe per label of the name asked about. Loaded from files in the
 * usual blocklist formats:
 *   - one domain per line ("example.com", "*.example.com", "||example.com^"),
 *   - hosts files ("0.0.0.0 example.com other.example"), where the usual
 *     loopback entries (localhost, broadcasthost, ip6-*...) are skipped,
 * with '#' comments in both. A set loaded from a file is immutable and shared
 * by every isolate that opens the same file (same path, inode, size and
 * mtime): a 100k-domain list exists once per process, not per worker.
 * Lookups take no lock; open/close take a process-wide mutex. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nameset;

#define NAMESET_LABELS_MAX 128 /* labels of a name: a wire name has at most 127 */

/** The set for the file at @path: loaded now, or shared with an earlier
 * open of the same unchanged file. Lines that are not names are skipped and
 * counted. Returns NULL with @err ("path: what", or "path:line: what" for a
 * file with nothing usable) on failure. Release with nameset_close(). */
struct nameset *nameset_open(const char *path, char *err, size_t err_cap);
/** Release a set from nameset_open() or nameset_new(). NULL is a no-op. */
void nameset_close(struct nameset *s);

/** An empty set, filled with nameset_add() (not shared). NULL: no memory. */
struct nameset *nameset_new(void);
/** Add the name in presentation form (@len bytes; a final dot is optional,
 * case is ignored). Returns 0, TERN_EMALFORMED or -ENOMEM. */
int nameset_add(struct nameset *s, const char *text, size_t len);

/** True when the name @text (presentation form, @len bytes, case ignored, a
 * final dot optional) or one of its parents is in the set. */
bool nameset_covers(const struct nameset *s, const char *text, size_t len);
/** nameset_covers() for a name the caller has made canonical: lowercase,
 * without the final dot, not the root, no escapes ("\\"), each label at most
 * 63 bytes, @n_labels labels starting at the offsets @starts (@starts[0] is
 * 0). For q.name, which the policy stage makes from the wire form: it skips
 * the checks and the copy. */
bool nameset_covers_canon(const struct nameset *s, const char *text, size_t len,
			  const uint16_t *starts, int n_labels);
/** True when the name @text itself is in the set. */
bool nameset_has(const struct nameset *s, const char *text, size_t len);

/** Names in the set. */
size_t nameset_count(const struct nameset *s);
/** Lines of the file that were skipped as not a name. */
size_t nameset_skipped(const struct nameset *s);
/** Bytes the set takes. */
size_t nameset_bytes(const struct nameset *s);
