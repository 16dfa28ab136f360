#!/bin/sh
# Installs what building and testing ima-hook needs on Debian 12 (run as
# root): the container runtimes and tools the bats suites drive, the qemu +
# swtpm stack of the real-IMA-kernel oracle tests, the C toolchain for the
# cgo nsenter stage, and the Go modules. Safe to run again.
#
# Go itself is not installed here: Debian 12's golang (1.19) is far older
# than go.mod asks for; put Go at /usr/local/go (https://go.dev/doc/install).
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (it uses apt-get)" >&2
	exit 1
fi

packages="
	make gcc libc6-dev musl-tools git ca-certificates openssl
	runc crun podman containerd docker.io bats busybox-static jq
	ima-evm-utils keyutils attr strace cpio
	rpm
	qemu-system-x86 swtpm swtpm-tools tpm2-tools
	time hyperfine util-linux coreutils
	shellcheck clang-format
"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# With Recommends, as on the build machines: podman then brings
# containernetworking-plugins, fuse-overlayfs, slirp4netns and catatonit.
# shellcheck disable=SC2086 # word splitting of the list is wanted
apt-get install -y $packages

PATH=$PATH:/usr/local/go/bin
if command -v go >/dev/null; then
	cd "$(dirname "$0")/.."
	go mod download
	# crictl, for the CRI suite (tests/bats/cri-containerd.bats) and
	# bench/cri.sh: Debian 12 does not package it; built from source into
	# .cache/bin, where both look for it.
	crictl_version=v1.37.0
	# (go install stamps no version into it: `crictl --version` says
	# "unknown", so presence is all that is checked.)
	if [ ! -x .cache/bin/crictl ]; then
		GOBIN=$PWD/.cache/bin go install "sigs.k8s.io/cri-tools/cmd/crictl@$crictl_version"
	fi
	# staticcheck for make lint, which runs it with go run at this
	# version: installing it here fetches and builds it ahead.
	staticcheck_version=v0.8.2
	GOBIN=$PWD/.cache/bin go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
	echo "install-deps.sh: Go $(go env GOVERSION) found, modules downloaded, crictl $crictl_version and staticcheck $staticcheck_version in .cache/bin"
else
	echo "install-deps.sh: Go is missing; install Go $(sed -nE 's/^go ([0-9.]+)$/\1/p' "$(dirname "$0")/../go.mod") or newer at /usr/local/go" >&2
	exit 1
fi
