# shellcheck shell=bash
# Set-up shared by scripts/demo.sh and bench/*.sh: a private work dir that
# is cleaned on exit (runc containers under $work/runc included), a busybox
# rootfs, and an admin config whose every directory lives in the work dir,
# so nothing touches /etc/ima-hook, /run/ima-hook or /var/lib/ima-hook.
#
#   . "$repo/scripts/lib.sh"
#   ih_workdir NAME            sets $work; extra cleanup: define ih_cleanup_extra
#   ih_busybox_rootfs DIR [APPLET...]   busybox + links (all applets if none)
#   ih_admin_config FILE RUNTIME        keys/policies/run/archive dirs in $work
#   ih_shuffled NAME...        the names, one per line, in a random order

ih_workdir() {
	work=$(mktemp -d "/tmp/ima-hook-$1.XXXXXX")
	mkdir -p "$work"/{keys,policies,run,archive,bin}
	trap ih_cleanup EXIT
}

ih_cleanup() {
	if declare -F ih_cleanup_extra >/dev/null; then ih_cleanup_extra; fi
	local runc id
	runc=$(command -v runc || true)
	if [[ -n $runc ]]; then
		for id in $("$runc" --root "$work/runc" list -q 2>/dev/null); do
			"$runc" --root "$work/runc" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$work"
}

ih_busybox_rootfs() {
	local dir=$1 a
	shift
	mkdir -p "$dir"/{bin,proc,sys,dev,tmp,etc,run}
	cp /bin/busybox "$dir/bin/busybox"
	# shellcheck disable=SC2046 # one word per applet name
	(($#)) || set -- $(/bin/busybox --list)
	for a in "$@"; do [[ $a == busybox ]] || ln -sf busybox "$dir/bin/$a"; done
	: >"$dir/etc/hosts"
	: >"$dir/etc/resolv.conf"
}

ih_admin_config() {
	cat >"$1" <<EOF
keys_dir = "$work/keys"
policies_dir = "$work/policies"
run_dir = "$work/run"
archive_dir = "$work/archive"
runtime = "$2"
log = "auto"
EOF
}

# ih_shuffled: a bench round's order. Not a rotation: what a start costs
# depends on what ran just before it (a Go program that exits leaves its
# pages and threads for the kernel to free while the next one starts), and
# a rotation gives every variant the same predecessor in every round; with
# one binary named twice, bench/startup.sh measured its copies 0.07 ms
# apart that way.
ih_shuffled() {
	printf '%s\n' "$@" | shuf
}
