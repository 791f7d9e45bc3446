#!/bin/sh
# make check: every seed of fuzz/corpus/policy through the policy target,
# without libFuzzer. automake exports $srcdir to tests; run from the build dir.
exec ./fuzz/replay_policy "${srcdir:-.}/fuzz/corpus/policy"
