#!/bin/sh
# make check: every seed of fuzz/corpus/msg_parse through the msg_parse target,
# without libFuzzer. automake exports $srcdir to tests; run from the build dir.
exec ./fuzz/replay_msg_parse "${srcdir:-.}/fuzz/corpus/msg_parse"
