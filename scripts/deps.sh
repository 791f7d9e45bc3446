#!/bin/sh
# Install what tern needs to build and to test, from Debian's packages.
# Safe to run again: apt-get skips what is installed.
set -e
PKGS="build-essential autoconf automake libtool pkg-config
 libldns-dev libuv1-dev libnghttp2-dev libssl-dev liblmdb-dev libcmocka-dev libhttp-parser-dev liblua5.4-dev
 dns-root-data"
TEST_PKGS="knot knot-dnsutils bind9-dnsutils ldnsutils python3-pytest python3-dnspython python3-cryptography
 openssl curl python3-h2 unbound
 clang libclang-rt-14-dev iproute2 util-linux
 knot-resolver pdns-recursor dnsperf valgrind lmdb-utils"
case "${1:-build}" in
build) want="$PKGS" ;;
test) want="$PKGS $TEST_PKGS" ;;
*) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	# Packages with a service (knot, unbound) must not start it: the tests
	# start the servers they need, on their own addresses.
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing || rc=$?
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	exit ${rc:-0}
fi
