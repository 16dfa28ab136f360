#!/bin/sh
# Prints the RPM Version and Release for ima-hook's version string $1
# (make's VERSION: a VERSION file, git describe, or "unknown"), one per
# line. RPM versions are digits and dots: a tag vX.Y.Z gives X.Y.Z and 1,
# a commit after it X.Y.Z and 0.git<N.gSHA>, anything else (an untagged
# checkout) 0.0.0 and 0.git<describe>, "-" turned into ".".
set -eu
v=${1#v}
case $v in
[0-9]*.[0-9]*-*) echo "${v%%-*}"; echo "0.git$(echo "${v#*-}" | tr -- - .)" ;;
[0-9]*.[0-9]*) echo "$v"; echo 1 ;;
*) echo 0.0.0; echo "0.git$(echo "$v" | tr -- - .)" ;;
esac
