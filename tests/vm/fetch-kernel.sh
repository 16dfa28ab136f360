#!/bin/sh
# Warm the kernel cache that internal/vmtest boots (CI runs this before the
# tests so the first VM test does not pay for the download).
#
#   tests/vm/fetch-kernel.sh            # into $IMA_HOOK_VM_CACHE or /var/cache/ima-hook-vm
#   IMA_HOOK_VM_KERNEL_PKG=linux-image-6.1.0-56-amd64 tests/vm/fetch-kernel.sh
#
# Same layout as vmtest.Kernel(): CACHE/linux-image-6.1.0-N-amd64/{boot,lib/modules/...}.
# Needs apt-get, apt-cache and dpkg-deb (Debian); the package is downloaded,
# never installed. Prints the vmlinuz and config paths.
set -eu

cache=${IMA_HOOK_VM_CACHE:-/var/cache/ima-hook-vm}
mkdir -p "$cache"

pkg=${IMA_HOOK_VM_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.0-[0-9]+-amd64$/ { print $2; exit }')
fi
case "$pkg" in
linux-image-6.1.0-*-amd64) ;;
*)
	echo "fetch-kernel: cannot name the Debian 6.1 kernel package (got '$pkg'); run apt-get update or set IMA_HOOK_VM_KERNEL_PKG" >&2
	exit 1
	;;
esac

# Same lock file as the Go side, so CI and a running test never unpack twice.
exec 9>"$cache/.lock"
flock 9

if ! ls "$cache/$pkg"/boot/vmlinuz-* >/dev/null 2>&1; then
	tmp=$(mktemp -d "$cache/.fetch-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>"$tmp/err") || {
		echo "fetch-kernel: apt-get download $pkg failed: $(tail -n 2 "$tmp/err")" >&2
		exit 1
	}
	mkdir "$tmp/root"
	dpkg-deb --fsys-tarfile "$tmp/$pkg"_*.deb | tar -x -C "$tmp/root" --wildcards \
		'./boot/*' './lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/drivers/block/*' \
		'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/lib/*' \
		'./lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/net/9p/*' './lib/modules/*/modules.*'
	rm -rf "${cache:?}/$pkg"
	mv "$tmp/root" "$cache/$pkg"
fi
ls "$cache/$pkg"/boot/vmlinuz-* "$cache/$pkg"/boot/config-*
