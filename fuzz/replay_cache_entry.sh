#!/bin/sh
# make check: every seed of fuzz/corpus/cache_entry through the cache_entry
# target, without libFuzzer. automake exports $srcdir to tests; run from the
# build dir.
exec ./fuzz/replay_cache_entry "${srcdir:-.}/fuzz/corpus/cache_entry"
