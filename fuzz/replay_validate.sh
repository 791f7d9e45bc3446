#!/bin/sh
# make check: every seed of fuzz/corpus/validate through the validate target,
# without libFuzzer. automake exports $srcdir to tests; run from the build dir.
exec ./fuzz/replay_validate "${srcdir:-.}/fuzz/corpus/validate"
