/* cache/key: the LMDB key of a cached RRset, built from (owner name, type).
 * Names are uncompressed wire form (length-prefixed labels ending with the root
 * label 0). This file does its own few name operations so that cache/ depends on
 * nothing but base/; it knows no message, no query. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_NAME_MAX 255 /* RFC 1035 3.1: a name is at most 255 bytes in wire form */
#define KEY_LABEL_MAX 63 /* RFC 1035 3.1 */
/* FORMAT: cache-key
 * Worst case: 250 content bytes (4 labels of 63, 63, 63, 61), every byte escaped
 * to two, 4 separators, the end-of-name byte and the type: 507. LMDB's default
 * limit is 511 (mdb_env_get_maxkeysize); cache_open checks it. */
#define KEY_MAX 507

/** Length of the valid uncompressed name at @name (root label included), reading
 * no more than @avail bytes (pass KEY_NAME_MAX when the caller vouches for a
 * terminated name). Returns TERN_EMALFORMED for a label longer than 63 (this
 * includes compression pointers), a name longer than 255 bytes, or one that does
 * not end within @avail bytes. */
int key_name_len(const uint8_t *name, size_t avail);

/** Encode the key of (@name, @type) into @out.
 * Returns the key's length, or TERN_EMALFORMED (see key_name_len()). */
int key_encode(uint8_t out[KEY_MAX], const uint8_t *name, uint16_t type);

/** The owner name (lowercased, wire form) and type of the key @key (@len
 * bytes, without a space byte). Returns the name's length or TERN_EMALFORMED. */
int key_decode(const uint8_t *key, size_t len, uint8_t out[KEY_NAME_MAX], uint16_t *type);

/** Encode into @out the prefix shared by every key at @name (all types) or, if
 * @subtree, by every key at and below @name. The prefix of the root's subtree
 * is empty (length 0): every key has it.
 * Returns the prefix's length, or TERN_EMALFORMED. */
int key_prefix(uint8_t out[KEY_MAX], const uint8_t *name, bool subtree);

/* FORMAT: cache-key: a shard keeps everything in one LMDB DB, the unnamed one
 * (a named DB costs a lookup of its record in the unnamed one after every
 * renew of a read transaction: a third of a lookup), split into spaces by the
 * key's first byte:
 *   KEY_SPACE_META:   the shard's own records (format, layout);
 *   KEY_SPACE_CUTS:   NS RRsets, keyed by the name alone: the space byte, then
 *                     key_prefix(name, false). This space holds nothing but
 *                     zone cuts, so the closest enclosing cut of a name is an
 *                     ordered lookup among cuts only;
 *   KEY_SPACE_RRSETS: every other type: the space byte, then key_encode(). */
enum key_space {
	KEY_SPACE_META = 0,
	KEY_SPACE_CUTS = 1,
	KEY_SPACE_RRSETS = 2,
};
#define KEY_DB_MAX (1 + KEY_MAX) /* a key in the DB: 508, within LMDB's 511 */
#define KEY_TYPE_NS 2            /* RFC 1035 3.2.2 */

/** Encode into @out the DB key of (@name, @type), space byte first, and set
 * *@domain_len to key_domain_len() of the part after the space byte (the part
 * that picks the shard). Returns the key's length, or TERN_EMALFORMED. */
int key_locate(uint8_t out[KEY_DB_MAX], const uint8_t *name, uint16_t type, size_t *domain_len);

/** The type of the entry stored under the DB key @key (@len bytes); false for
 * a key of no entry space, or too short to be one of ours. */
bool key_type(const uint8_t *key, size_t len, uint16_t *type);

/* The helpers below work on a *label prefix*: the start of a key made of whole
 * labels, each with its SEP, as key_prefix(name, true) writes it (the root's is
 * empty). Cut keys (FORMAT: cache-key, KEY_SPACE_CUTS) are the space byte, a
 * label prefix and one END byte. */

/** Length of the label prefix of the first (at most) two labels of @key (a
 * whole key or a label prefix of @len bytes): the part that picks the shard.
 * 0 for the root. */
size_t key_domain_len(const uint8_t *key, size_t len);
/** Number of labels in the label prefix @labels of @len bytes. */
unsigned key_depth(const uint8_t *labels, size_t len);
/** Length of the label prefix of the parent of the name whose label prefix is
 * @labels (@len > 0: the root has no parent). */
size_t key_parent_len(const uint8_t *labels, size_t len);
/** Length of the label prefix of the closest common ancestor of two names,
 * given their label prefixes. */
size_t key_common_len(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
