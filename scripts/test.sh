#!/bin/sh
# The whole test suite: unit tests and fuzz-corpus replay (make check), the
# integration tests against the simulated internet, the same under ASan/UBSan,
# and a short libFuzzer run. Ends with one "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
passed=0
failed=0
step() {
	name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok"
	else
		failed=$((failed + 1))
		echo "=== $name: FAILED"
	fi
}
build() { # dir, configure args...
	dir=$1
	shift
	mkdir -p "$dir" && cd "$dir" &&
		{ [ -f Makefile ] || ../configure -q "$@"; } &&
		make -j"$(nproc)" >/dev/null && cd "$ROOT"
}
check() { # dir
	cd "$1" && make -j"$(nproc)" check >/dev/null 2>&1
	rc=$?
	grep -h "^# \|^FAIL" test-suite.log 2>/dev/null | head -20
	# cmocka summaries of every unit test, for the record
	for f in $(find tests fuzz -name '*.log' ! -name test-suite.log 2>/dev/null); do
		grep -h "PASSED\|FAILED" "$f" | tail -1
	done
	cd "$ROOT"
	return $rc
}
integration() { # dir
	TERND="$ROOT/$1/ternd" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/net
}

[ -x configure ] || autoreconf -fi >/dev/null 2>&1
step "build" build build
step "unit tests" check build
step "integration tests" integration build
step "build (ASan/UBSan)" build build-asan --enable-sanitizers
step "unit tests (ASan/UBSan)" check build-asan
ASAN_OPTIONS=detect_leaks=1 step "integration tests (ASan/UBSan)" integration build-asan
step "fuzz ($FUZZ_SECONDS s per target)" sh fuzz/run.sh "$FUZZ_SECONDS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
