#!/bin/sh
# Regenerate pkg/measure/testdata/qemu: boots Debian's IMA kernel with swtpm
# once per capture (ima-ng, ima-sig, ima-buf, violations), exports the lists
# and both PCR banks, and replays each with evmctl (results land in
# pkg/measure/testdata/qemu/evmctl-replay.txt). Takes 1-5 minutes under TCG
# depending on the host's load. Needs: qemu-system-x86 swtpm swtpm-tools
# busybox-static cpio ima-evm-utils keyutils attr.
set -eu
cd "$(dirname "$0")/../.."
exec go test -count=1 -run '^TestCaptureMeasurements$' -timeout 30m -v ./internal/vmtest -capture "$@"
