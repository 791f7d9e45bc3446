#!/bin/sh
# The whole test suite: unit tests and fuzz-corpus replay (make check), the
# integration tests against the simulated internet, the same under ASan/UBSan,
# a smoke run of bench/, and a short libFuzzer run. Ends with one "N passed, N failed" line that
# counts individual tests (cmocka cases, pytest tests) and the other steps.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
LOGS=$ROOT/build/test-logs
passed=0
failed=0
skipped=0
add() { # passed failed [skipped]
	passed=$((passed + $1))
	failed=$((failed + $2))
	skipped=$((skipped + ${3:-0}))
}
build() { # dir, configure args...
	dir=$1
	shift
	echo "=== build $dir"
	mkdir -p "$dir" && (cd "$dir" &&
		{ [ -f Makefile ] || ../configure -q "$@"; } &&
		make -j"$(nproc)" >/dev/null) || { echo "=== build $dir: FAILED"; add 0 1; return 1; }
}
check() { # dir: make check, then count the cmocka cases in every test log
	echo "=== unit tests in $1"
	(cd "$1" && make -j"$(nproc)" check >/dev/null 2>&1)
	rc=$?
	p=$(cat $(find "$1/tests" -name '*.log') 2>/dev/null | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	f=$(cat $(find "$1/tests" -name '*.log') 2>/dev/null | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	# programs that are not cmocka (the fuzz corpus replay) count once each
	r=$(grep -l "^PASS" $(find "$1/fuzz" -name '*.log' 2>/dev/null) /dev/null 2>/dev/null | wc -l)
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		grep -h "^FAIL\|^ERROR" "$1/test-suite.log" 2>/dev/null | head -20
	fi
	echo "=== unit tests in $1: $((p + r)) passed, $f failed"
	add $((p + r)) "$f"
}
integration() { # dir
	echo "=== integration tests with $1/ternd"
	mkdir -p "$LOGS"
	out="$LOGS/pytest-$(basename "$1").log"
	TERND="$ROOT/$1/ternd" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/net >"$out" 2>&1
	rc=$?
	tail -25 "$out" | grep -v "^$"
	line=$(tail -1 "$out")
	p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p; s/^\([0-9]*\) passed.*/\1/p' | head -1)
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p; s/^\([0-9]*\) failed.*/\1/p' | head -1)
	e=$(echo "$line" | sed -n 's/.* \([0-9]*\) error.*/\1/p' | head -1)
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p' | head -1)
	f=$(( ${f:-0} + ${e:-0} ))
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	add "${p:-0}" "$f" "${s:-0}"
}
bench_smoke() { # dir: bench/ at tiny scale, so that it cannot rot (its figures mean nothing here)
	echo "=== bench/run --smoke with $1"
	if bench/run --smoke --no-install --build "$ROOT/$1" --results "$LOGS/bench-smoke.md" \
		>"$LOGS/bench-smoke.log" 2>&1; then
		add 1 0
	else
		tail -30 "$LOGS/bench-smoke.log"
		add 0 1
	fi
}
fuzz() {
	echo "=== fuzz, $FUZZ_SECONDS s per target"
	if sh fuzz/run.sh "$FUZZ_SECONDS" >"$LOGS/fuzz.log" 2>&1; then
		add 1 0
	else
		tail -30 "$LOGS/fuzz.log"
		add 0 1
	fi
}

[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p "$LOGS"
build build && check build && integration build && bench_smoke build
build build-asan --enable-sanitizers && check build-asan && integration build-asan
fuzz
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
