#!/bin/bash
# Build autoenroll out of tree: tools/build.sh BUILDDIR [configure options...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:?usage: tools/build.sh BUILDDIR [configure options]}
shift
[ -x "$top/configure" ] && [ -x "$top/build-aux/tap-driver.sh" ] || "$top/autogen.sh"
mkdir -p "$builddir"
cd "$builddir"
[ -f Makefile ] || "$top/configure" --enable-werror "$@"
make -j"$(nproc)"
