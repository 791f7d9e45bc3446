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

/** Encode into @out the prefix shared by every key at @name (all types) or, if
 * @subtree, by every key at and below @name. The prefix of the root's subtree
 * is empty (length 0): every key has it.
 * Returns the prefix's length, or TERN_EMALFORMED. */
int key_prefix(uint8_t out[KEY_MAX], const uint8_t *name, bool subtree);
