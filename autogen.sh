#!/bin/sh
# Generate configure and Makefile.in (nothing generated is committed).
set -e
cd "$(dirname "$0")"
autoreconf -fi
# automake ships the TAP driver but does not install it by itself.
am_dir=$(automake --print-libdir)
cp -f "$am_dir/tap-driver.sh" build-aux/tap-driver.sh
chmod +x build-aux/tap-driver.sh
