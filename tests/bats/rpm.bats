#!/usr/bin/env bats
# The binary RPM (issue 13.5): `make rpm` builds it from
# packaging/rpm/ima-hook.spec with rpmbuild (Debian's rpm package); the
# payload is listed with rpm -qlp and checked file by file, then installed
# into a scratch root (rpm --root, no scripts, no dependencies) where the
# installed binary runs. Also run alone: make test-rpm.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
	command -v rpmbuild >/dev/null || return 0
	# The release binary is built already (make test builds it first), so
	# this only packages it.
	make -C "$REPO" --no-print-directory rpm >"$BATS_FILE_TMPDIR/make-rpm.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/make-rpm.log" >&2
		return 1
	}
}

setup() {
	command -v rpmbuild >/dev/null || skip "rpmbuild is not installed (apt-get install rpm, or make deps)"
	shopt -s nullglob
	rpms=("$REPO"/bin/rpm/ima-hook-*.rpm)
	[ "${#rpms[@]}" -eq 1 ] || { echo "want one RPM in bin/rpm, found: ${rpms[*]}" >&2; return 1; }
	RPM=${rpms[0]}
}

# rpmq runs an rpm query without Debian's "use Alien" notice on stderr.
rpmq() { rpm "$@" 2>/dev/null; }

@test "rpm: the payload is the binary, its symlinks, hooks.d files, the iSulad hook-spec, config, directories, tmpfiles, license and docs" {
	rpmq -qlp "$RPM" | grep -v '^/usr/share/doc/ima-hook/docs/' >"$BATS_TEST_TMPDIR/files"
	cat >"$BATS_TEST_TMPDIR/want" <<-'LIST'
		/etc/ima-hook
		/etc/ima-hook/ima-hook.toml
		/etc/ima-hook/keys
		/etc/ima-hook/policies
		/run/ima-hook
		/usr/bin/ima-hook
		/usr/bin/ima-runtime
		/usr/lib/tmpfiles.d/ima-hook.conf
		/usr/libexec/oci/hooks.d/ima-hook
		/usr/share/containers/oci/hooks.d/50-ima-hook-createruntime.json
		/usr/share/containers/oci/hooks.d/50-ima-hook-poststop.json
		/usr/share/doc/ima-hook/README.md
		/usr/share/doc/ima-hook/docs
		/usr/share/ima-hook
		/usr/share/ima-hook/isulad-hook-spec.json
		/usr/share/licenses/ima-hook/LICENSE
		/var/lib/ima-hook
	LIST
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/files"
	# Every doc page ships, openeuler.md among them.
	for d in "$REPO"/docs/*.md; do
		rpmq -qlp "$RPM" | grep -qx "/usr/share/doc/ima-hook/docs/$(basename "$d")" || { echo "missing doc $d" >&2; return 1; }
	done
	rpmq -qlp "$RPM" | grep -qx /usr/share/doc/ima-hook/docs/openeuler.md

	# Modes and owners: the hook binary root-owned and writable by root
	# only (iSulad refuses a hook binary others may write), run and state
	# directories private.
	rpmq -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$RPM" >"$BATS_TEST_TMPDIR/modes"
	grep -qx -- '-rwxr-xr-x root root /usr/libexec/oci/hooks.d/ima-hook' "$BATS_TEST_TMPDIR/modes"
	grep -qx -- 'drwx------ root root /run/ima-hook' "$BATS_TEST_TMPDIR/modes"
	grep -qx -- 'drwx------ root root /var/lib/ima-hook' "$BATS_TEST_TMPDIR/modes"
	grep -qx -- '-rw-r--r-- root root /etc/ima-hook/ima-hook.toml' "$BATS_TEST_TMPDIR/modes"
	! grep -v '^l' "$BATS_TEST_TMPDIR/modes" | awk '{print $1}' | grep -q '^.....w\|^........w' ||
		ih_fail "a file others may write: $(cat "$BATS_TEST_TMPDIR/modes")"
	! awk '$2 != "root" || $3 != "root"' "$BATS_TEST_TMPDIR/modes" | grep -q . ||
		ih_fail "a file not owned by root: $(cat "$BATS_TEST_TMPDIR/modes")"

	# The admin config is %config(noreplace): c(onfig) and n(oreplace).
	[ "$(rpmq -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$RPM" | awk '$1 == "/etc/ima-hook/ima-hook.toml" {print $2}')" = cn ]
	[ "$(rpmq -qp --configfiles "$RPM")" = /etc/ima-hook/ima-hook.toml ]
	# A static binary: no library dependencies, only /bin/sh for %post.
	! rpmq -qp --requires "$RPM" | grep -v '^rpmlib(' | grep -vx /bin/sh | grep -q . ||
		ih_fail "requires more than /bin/sh: $(rpmq -qp --requires "$RPM")"
	[ "$(rpmq -qp --qf '%{LICENSE}' "$RPM")" = Apache-2.0 ]
}

@test "rpm: installed into a scratch root, the binary runs, the hook files and the iSulad hook-spec point at it" {
	root=$BATS_TEST_TMPDIR/root
	mkdir -p "$root"
	rpm --root "$root" --initdb
	rpm --root "$root" -i --nodeps --noscripts "$RPM" 2>"$BATS_TEST_TMPDIR/err" || { cat "$BATS_TEST_TMPDIR/err" >&2; return 1; }
	rpmq --root "$root" -q ima-hook
	rpmq --root "$root" -V ima-hook

	# The installed binary runs (static: chroot needs nothing else), under
	# both names, and reports the version make stamped.
	want=$("$REPO/bin/ima-hook" version)
	[ "$(chroot "$root" /usr/libexec/oci/hooks.d/ima-hook version)" = "$want" ]
	[ "$(chroot "$root" /usr/bin/ima-hook version)" = "$want" ]
	[ "$(readlink "$root/usr/bin/ima-runtime")" = /usr/libexec/oci/hooks.d/ima-hook ]
	cmp "$REPO/bin/ima-hook" "$root/usr/libexec/oci/hooks.d/ima-hook"

	# hooks.d files and the iSulad hook-spec name the installed binary.
	for f in "$root"/usr/share/containers/oci/hooks.d/50-ima-hook-*.json; do
		[ "$(jq -r .hook.path "$f")" = /usr/libexec/oci/hooks.d/ima-hook ]
	done
	spec=$root/usr/share/ima-hook/isulad-hook-spec.json
	[ "$(jq -r '[.prestart[].path, .poststop[].path] | unique | .[]' "$spec")" = /usr/libexec/oci/hooks.d/ima-hook ]
	[ "$(jq -r '.prestart[0].args | join(" ")' "$spec")" = "ima-hook hook --stage prestart" ]
	[ "$(jq -r '.poststop[0].args | join(" ")' "$spec")" = "ima-hook hook --stage poststop" ]
	# The binary the hook-spec names meets iSulad's rules: it exists, is
	# executable, owned by root and writable by root only.
	bin=$root$(jq -r '.prestart[0].path' "$spec")
	[ -x "$bin" ]
	[ "$(stat -c %u "$bin")" = 0 ]
	[ $(($(stat -c '0%a' "$bin") & 022)) -eq 0 ]

	# The admin config is the example; the run directory comes from tmpfiles.d.
	cmp "$REPO/hooks.d/ima-hook.toml.example" "$root/etc/ima-hook/ima-hook.toml"
	grep -qx 'd /run/ima-hook 0700 root root -' "$root/usr/lib/tmpfiles.d/ima-hook.conf"
	cmp "$REPO/LICENSE" "$root/usr/share/licenses/ima-hook/LICENSE"
	[ -d "$root/etc/ima-hook/keys" ] && [ -d "$root/etc/ima-hook/policies" ]
}
