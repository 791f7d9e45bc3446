#!/bin/sh
# Configure and build tern in build/ (out of tree). Extra arguments go to configure.
set -e
cd "$(dirname "$0")/.."
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q "$@"
make -j"$(nproc)"
