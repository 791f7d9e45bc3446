#!/bin/sh
# make check: every seed of fuzz/corpus/doh through the DoH request target,
# without libFuzzer. automake exports $srcdir to tests; run from the build dir.
exec ./fuzz/replay_doh "${srcdir:-.}/fuzz/corpus/doh"
