/* cache/env: one LMDB environment in a directory of the cache, opened with the
 * flags and checks the cache needs, and removed when it cannot be used. Used
 * for the layout record in the cache directory and for every shard. Knows no
 * entry and no key. */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>

#define READERS_MAX 1024 /* LMDB reader slots: one per thread per process (default 126) */

/** mkdir -p @dir, creating what is missing with mode 0700 (the cache holds the
 * names users looked up). Returns 0 or -errno. */
int env_mkdir(const char *dir);

/** Create and open the environment in @dir with a map of @map_bytes and room
 * for @max_dbs named DBs, and clear the reader slots of dead processes.
 * Returns 0 and *@out; TERN_EMALFORMED with *@why set when the files are not a
 * usable environment (garbage, truncated, another LMDB format) and should be
 * removed; or another negative error (logged), when the files may be fine. */
int env_open(MDB_env **out, const char *dir, size_t map_bytes, unsigned max_dbs, const char **why);

/** For an LMDB result @rc of the first transaction on a new environment in
 * @dir: TERN_EMALFORMED with *@why set when it says that the files are
 * damaged, else the error as -errno (logged). */
int env_failure(int rc, const char *dir, const char **why);

/** Delete the environment's files in @dir, and the write generations that go
 * with them (only those: the directory may hold others). Returns 0 or -errno. */
int env_remove(const char *dir);
