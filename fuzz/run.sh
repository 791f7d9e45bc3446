#!/bin/sh
# fuzz/run.sh [SECONDS]: build the libFuzzer targets with clang in build-fuzz/
# (under the repository root) and run each fuzz/fuzz_*.c target for SECONDS
# (default 60) on a scratch copy of its seed corpus. Exits non-zero if any
# target crashes; the crashing input is left in build-fuzz/artifacts/.
set -eu

secs=${1:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-fuzz"
jobs=$(nproc 2>/dev/null || echo 2)

mkdir -p "$build"
cd "$build"
if ! grep -q -e '--enable-fuzzing' config.status 2>/dev/null; then
	"$top/configure" -q CC=clang --enable-fuzzing
fi

targets=$(cd "$top/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
for t in $targets; do
	make -j"$jobs" "fuzz/$t"
done

status=0
mkdir -p artifacts
for t in $targets; do
	name=${t#fuzz_}
	work="$build/corpus/$name"
	rm -rf "$work"
	mkdir -p "$work"
	if [ -d "$top/fuzz/corpus/$name" ]; then
		cp "$top/fuzz/corpus/$name"/* "$work"/
	fi
	echo "== $t: ${secs}s"
	if ! "./fuzz/$t" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" "$work"; then
		echo "== $t: CRASH, see $build/artifacts/" >&2
		status=1
	fi
done
exit $status
