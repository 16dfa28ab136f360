# shellcheck shell=bash
# The .bats files that source this use its variables and pass the optional
# arguments; jq programs are single-quoted on purpose:
# shellcheck disable=SC2034,SC2119,SC2120,SC2016
#
# Shared helpers for the ima-hook bats suites (tests/bats/*.bats).
#
# Everything here is real: runc and podman, bundles built from the host's
# busybox-static, hooks.d files rendered from the shipped templates, the OCI
# state on stdin. Only the IMA-namespace kernel calls are emulated, by the
# binary built with -tags imaemu (bin/ima-hook-emu); see docs/testing.md,
# layer 1. Every test gets its own admin config, keys/policies dirs, record
# dirs and emulator state dir under $BATS_TEST_TMPDIR, so tests never see each
# other's state and never touch /etc/ima-hook, /run/ima-hook or
# /var/lib/ima-hook.
#
# Use from a suite:
#
#   load helpers
#   setup()    { ih_setup; }
#   teardown() { ih_teardown; }
#
# Naming: functions start with ih_ (ima-hook) so they cannot clash with bats
# or with helpers a suite defines itself.

bats_require_minimum_version 1.5.0

# --- locations ---------------------------------------------------------------

IH_REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
IH_BIN_DIR=${IMA_HOOK_BIN_DIR:-$IH_REPO_ROOT/bin}
# The emulated-kernel build (-tags imaemu) and the release build.
IH_EMU_BIN=${IMA_HOOK_EMU_BIN:-$IH_BIN_DIR/ima-hook-emu}
IH_RELEASE_BIN=${IMA_HOOK_RELEASE_BIN:-$IH_BIN_DIR/ima-hook}
# The timens test build (time namespaces stand in for IMA ones, docs/testing.md
# layer 2) and what its namespaces show in /proc/<pid>/timens_offsets, as
# ih_squeeze prints it: a week of monotonic offset (TimensOffset in
# pkg/ns/linux_spawn_timens.go), no boottime offset.
IH_TIMENS_BIN=${IMA_HOOK_TIMENS_BIN:-$IH_BIN_DIR/ima-hook-timens}
IH_TIMENS_OFFSETS="monotonic 604800 0 boottime 0 0"
IH_RUNC=${IMA_HOOK_RUNC:-$(command -v runc || echo /usr/sbin/runc)}
IH_PODMAN=${IMA_HOOK_PODMAN:-$(command -v podman || echo /usr/bin/podman)}
IH_HOOKS_TEMPLATES=$IH_REPO_ROOT/hooks.d
# The PATH every hook gets: podman runs poststop hooks with an empty
# environment, runc with exactly the hook's env.
IH_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# PROC_IMA_INIT_INO: the host's initial IMA namespace (docs/kernel-abi.md#namespace-ids).
IH_HOST_NS=4026531833
# Bound every runtime call: a hung hook or wrapper must fail the test, not
# hang CI.
IH_TIMEOUT=${IMA_HOOK_TEST_TIMEOUT:-120}

# A run-wide id keeps container names of concurrent bats runs (and of other
# suites on the same machine) apart; teardown deletes only what it created.
IH_RUN_ID=${IH_RUN_ID:-ihk$(printf '%x' "${BATS_ROOT_PID:-$$}")}
export IH_RUN_ID

# --- small utilities ---------------------------------------------------------

# ih_fail MSG...: fail the current test with a message on stderr.
ih_fail() {
	printf '# FAIL: %s\n' "$*" >&2
	return 1
}

ih_log() { printf '# %s\n' "$*" >&2; }

# ih_squeeze TEXT: TEXT with each run of blanks and newlines made one space,
# no trailing space (timens_offsets lines compared as one line).
ih_squeeze() { tr -s ' \n' '  ' <<<"$1" | sed 's/ *$//'; }

ih_require_root() {
	[[ $EUID -eq 0 ]] || skip "needs root (runc and podman run rootful here)"
}

# ih_require_bin PATH: the binary under test must exist. A missing binary is a
# failure, not a skip: `make test` builds it first, so absence means the build
# broke.
ih_require_bin() {
	[[ -x $1 ]] || ih_fail "$1 is not built; run 'make build build-emu' first"
}

ih_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed (make deps)"
	done
}

# ih_count_hook_lines TEXT: how many one-line ima-hook errors TEXT carries.
# runc quotes a failing hook's stderr inside its own error line ("stderr:
# ima-hook: ...\n" with a literal backslash-n), so count occurrences of the
# prefix rather than lines that start with it.
ih_count_hook_lines() {
	grep -o 'ima-hook: ' <<<"$1" | wc -l
}

# ih_expect_one_hook_line SUBJECT: $output holds exactly one "ima-hook:"
# error and that error names SUBJECT (an annotation key or a file path).
ih_expect_one_hook_line() {
	local subject=$1 n
	n=$(ih_count_hook_lines "$output")
	if [[ $n -ne 1 ]]; then
		ih_fail "want exactly one 'ima-hook:' error, got $n in: $output"
		return 1
	fi
	local line
	line=$(grep -o 'ima-hook: .*' <<<"$output" | head -n1)
	[[ $line == *"ima-hook: $subject"* ]] || {
		ih_fail "the ima-hook error does not name '$subject' first: $line"
		return 1
	}
	# The contract's shape: "ima-hook: <subject>: <problem>; <fix>".
	[[ $line == *": "*"; "* ]] || {
		ih_fail "the ima-hook error lacks '<problem>; <fix>': $line"
		return 1
	}
}

ih_sha256() { sha256sum "$1" | cut -d' ' -f1; }
ih_sha256_str() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# --- per-test environment ----------------------------------------------------

# ih_setup: call from setup(). Creates the per-test directories, the admin
# config, the emulator state dir, the wrapper script, and checks the tools.
ih_setup() {
	ih_require_root
	ih_require_cmd "$IH_RUNC" jq /bin/busybox
	T=$BATS_TEST_TMPDIR
	IH_KEYS_DIR=$T/keys
	IH_POLICIES_DIR=$T/policies
	IH_RUN_DIR=$T/run
	IH_ARCHIVE_DIR=$T/archive
	IH_CONFIG=$T/ima-hook.toml
	IH_TEST_BIN=$T/bin
	IH_HOOKS_DIR=$T/hooks.d
	IMA_HOOK_EMU_DIR=$T/emu
	export IMA_HOOK_EMU_DIR
	# The test builds keep the wrapper's pass-through cards here (the
	# release build always uses /run/ima-hook-passthrough).
	IMA_HOOK_PASS_CARD_DIR=$T/cards
	export IMA_HOOK_PASS_CARD_DIR
	mkdir -p "$IH_KEYS_DIR" "$IH_POLICIES_DIR" "$IH_TEST_BIN" "$IMA_HOOK_EMU_DIR"
	# The switch matrix (tests/bats/switches.sh) runs suites on another
	# emulated kernel: IH_EMU_SWITCHES="key=value,..." (or space-separated).
	if [[ -n ${IH_EMU_SWITCHES:-} ]]; then
		# shellcheck disable=SC2086 # split on commas and blanks on purpose
		ih_emu_switches ${IH_EMU_SWITCHES//,/ } || return 1
	fi
	# A private runc root: `runc list` shows only this test's containers and
	# teardown cannot hit anyone else's.
	IH_RUNC_ROOT=$T/runc-root
	IH_CIDS=()
	IH_BUNDLES_DIR=$T/bundles
	mkdir -p "$IH_BUNDLES_DIR"
	ih_write_admin_config
	IH_ROOTFS=$(ih_busybox_rootfs)
	ih_wrapper >/dev/null
}

# ih_teardown: call from teardown(). Deletes every container this test made
# (runc ones from the private root, podman ones by label) and says what it
# deleted, so a leak is visible in the TAP output.
ih_teardown() {
	local id
	if [[ -d ${IH_RUNC_ROOT:-/nonexistent} ]]; then
		for id in $("$IH_RUNC" --root "$IH_RUNC_ROOT" list -q 2>/dev/null); do
			ih_log "teardown: deleting leftover runc container $id"
			timeout 30 "$IH_RUNC" --root "$IH_RUNC_ROOT" kill "$id" KILL >/dev/null 2>&1 || true
			timeout 30 "$IH_RUNC" --root "$IH_RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	if command -v "$IH_PODMAN" >/dev/null && [[ -n ${IH_USED_PODMAN:-} ]]; then
		for id in $("$IH_PODMAN" ps -aq --filter "label=ima-hook-test=$IH_RUN_ID-$BATS_TEST_NUMBER" 2>/dev/null); do
			ih_log "teardown: deleting leftover podman container $id"
			timeout 60 "$IH_PODMAN" rm -f "$id" >/dev/null 2>&1 || true
		done
	fi
}

# ih_write_admin_config [--top LINE]... [--default LINE]... [--kernel LINE]...
# Writes $IH_CONFIG: the contract's admin TOML pointing every directory into
# this test's temp dir, plus the given lines in the top table, [defaults] or
# [kernel]. Call again to replace it.
ih_write_admin_config() {
	local top=() defaults=() kernel=()
	while (($#)); do
		case $1 in
		--top) top+=("$2"); shift 2 ;;
		--default) defaults+=("$2"); shift 2 ;;
		--kernel) kernel+=("$2"); shift 2 ;;
		*) ih_fail "ih_write_admin_config: unknown option $1"; return 1 ;;
		esac
	done
	{
		printf '# admin config of test %s\n' "$BATS_TEST_NAME"
		printf 'keys_dir = "%s"\n' "$IH_KEYS_DIR"
		printf 'policies_dir = "%s"\n' "$IH_POLICIES_DIR"
		printf 'run_dir = "%s"\n' "$IH_RUN_DIR"
		printf 'archive_dir = "%s"\n' "$IH_ARCHIVE_DIR"
		printf 'runtime = "%s"\n' "$IH_RUNC"
		printf 'log = "auto"\n'
		local l
		for l in "${top[@]}"; do printf '%s\n' "$l"; done
		printf '[defaults]\n'
		for l in "${defaults[@]}"; do printf '%s\n' "$l"; done
		printf '[kernel]\n'
		for l in "${kernel[@]}"; do printf '%s\n' "$l"; done
	} >"$IH_CONFIG"
}

# --- rootfs and bundles ------------------------------------------------------

# ih_busybox_rootfs: prints the path of a busybox rootfs, built once per bats
# run from /bin/busybox (Debian busybox-static) and shared read-only by every
# container of the run. Applets are relative symlinks, so they resolve inside
# the container (busybox --install -s would point them at the host path).
ih_busybox_rootfs() {
	local dir=$BATS_RUN_TMPDIR/rootfs
	(
		flock 9
		if [[ ! -e $dir/.complete ]]; then
			rm -rf "$dir"
			mkdir -p "$dir"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,usr/bin,usr/sbin,var}
			chmod 1777 "$dir/tmp"
			cp /bin/busybox "$dir/bin/busybox"
			local a
			for a in $(/bin/busybox --list); do
				[[ $a == busybox ]] || ln -sf busybox "$dir/bin/$a"
			done
			echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
			echo 'root:x:0:' >"$dir/etc/group"
			: >"$dir/etc/hosts"
			: >"$dir/etc/resolv.conf"
			touch "$dir/.complete"
		fi
	) 9>"$BATS_RUN_TMPDIR/rootfs.lock"
	echo "$dir"
}

# ih_runc_spec_template: `runc spec` output, made once per run.
ih_runc_spec_template() {
	local f=$BATS_RUN_TMPDIR/runc-spec.json
	(
		flock 9
		if [[ ! -s $f ]]; then
			local d
			d=$(mktemp -d "$BATS_RUN_TMPDIR/spec.XXXXXX")
			(cd "$d" && "$IH_RUNC" spec) && mv "$d/config.json" "$f"
			rm -rf "$d"
		fi
	) 9>"$BATS_RUN_TMPDIR/spec.lock"
	echo "$f"
}

# ih_cid NAME: the container id this test uses for NAME (run- and test-unique).
ih_cid() { echo "$IH_RUN_ID-$BATS_TEST_NUMBER-$1"; }

# ih_bundle NAME CMD...: creates a runc bundle for container NAME running CMD
# (default /bin/true) over the shared read-only rootfs; prints its path.
ih_bundle() {
	local name=$1
	shift
	(($#)) || set -- /bin/true
	local b=$IH_BUNDLES_DIR/$name
	mkdir -p "$b"
	local args
	args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
	jq --arg root "$IH_ROOTFS" --argjson args "$args" --arg path "PATH=$IH_PATH" '
		.process.terminal = false
		| .process.args = $args
		| .process.env = [$path, "TERM=dumb"]
		| .root = {path: $root, readonly: true}
		| .hostname = "ima-hook-test"
		| .annotations = {}
	' "$(ih_runc_spec_template)" >"$b/config.json"
	echo "$b"
}

# ih_update_config BUNDLE JQ-FILTER [jq args...]: edits BUNDLE/config.json.
ih_update_config() {
	local b=$1 filter=$2
	shift 2
	jq "$@" "$filter" "$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}

# ih_annotate BUNDLE KEY=VALUE...: adds OCI annotations (values may contain
# newlines and '=').
ih_annotate() {
	local b=$1 kv
	shift
	for kv in "$@"; do
		ih_update_config "$b" '.annotations[$k] = $v' --arg k "${kv%%=*}" --arg v "${kv#*=}"
	done
}

# ih_hook_entry BIN STAGE: the OCI hook object for BIN at STAGE with this
# test's admin config and emulator dir. Same argv shape as the shipped
# hooks.d file plus --config.
ih_hook_entry() {
	jq -n --arg bin "$1" --arg stage "$2" --arg cfg "$IH_CONFIG" \
		--arg path "PATH=$IH_PATH" --arg emu "IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR" '
		{path: $bin, args: ["ima-hook", "hook", "--stage", $stage, "--config", $cfg],
		 env: [$path, $emu], timeout: 30}'
}

# ih_add_hooks BUNDLE [BIN]: adds the createRuntime and poststop hooks
# (BIN defaults to the emulated build).
ih_add_hooks() {
	local b=$1 bin=${2:-$IH_EMU_BIN}
	ih_update_config "$b" '.hooks = {createRuntime: [$c], poststop: [$p]}' \
		--argjson c "$(ih_hook_entry "$bin" createRuntime)" \
		--argjson p "$(ih_hook_entry "$bin" poststop)"
}

# --- the runtime wrapper -----------------------------------------------------

# ih_wrapper [BIN]: prints the path of an executable named ima-runtime that is
# the runtime wrapper of BIN (default: the emulated build) for this test: it
# carries the test's admin config and emulator dir, which a bare symlink
# cannot, and execs `BIN runtime --config CFG --runtime RUNC -- ARGS`.
# podman uses it as --runtime; runc tests call it instead of runc.
ih_wrapper() {
	local bin=${1:-$IH_EMU_BIN} w=$IH_TEST_BIN/ima-runtime
	[[ $bin == "$IH_EMU_BIN" ]] || w=$IH_TEST_BIN/ima-runtime-$(basename "$bin")
	if [[ ! -x $w ]]; then
		# Written aside and renamed: concurrent callers (the parallel suite)
		# must never exec a half-written file (ETXTBSY).
		local tmp
		tmp=$(mktemp "$w.XXXXXX")
		cat >"$tmp" <<-EOF
			#!/bin/sh
			# runtime wrapper for bats test $BATS_TEST_NUMBER
			PATH=$IH_PATH
			IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR
			IMA_HOOK_PASS_CARD_DIR=$IMA_HOOK_PASS_CARD_DIR
			export PATH IMA_HOOK_EMU_DIR IMA_HOOK_PASS_CARD_DIR
			exec $bin runtime --config $IH_CONFIG --runtime $IH_RUNC -- "\$@"
		EOF
		chmod +x "$tmp"
		mv -f "$tmp" "$w"
	fi
	echo "$w"
}

# ih_wrapper_symlink [BIN]: the plain symlink form (argv[0] "ima-runtime"),
# for tests of the symlink dispatch itself; it uses the default admin config.
ih_wrapper_symlink() {
	local bin=${1:-$IH_EMU_BIN} d=$IH_TEST_BIN/link
	mkdir -p "$d"
	ln -sf "$bin" "$d/ima-runtime"
	echo "$d/ima-runtime"
}

# --- running containers --------------------------------------------------------

# ih_runc ARGS...: plain runc with this test's root (no wrapper).
ih_runc() {
	timeout "$IH_TIMEOUT" "$IH_RUNC" --root "$IH_RUNC_ROOT" "$@"
}

# ih_wrapped_runc ARGS...: runc behind the emulated runtime wrapper, the only
# thing that creates an IMA namespace.
ih_wrapped_runc() {
	timeout "$IH_TIMEOUT" "$(ih_wrapper)" --root "$IH_RUNC_ROOT" "$@"
}

# ih_run_container [--wrapper|--no-wrapper] NAME BUNDLE: `runc run` the
# bundle in the foreground under bats' `run`, stdin closed. Sets $status and
# $output; the container id is $(ih_cid NAME).
ih_run_container() {
	local how=--wrapper
	case $1 in --wrapper | --no-wrapper) how=$1; shift ;; esac
	local id
	id=$(ih_cid "$1")
	IH_CIDS+=("$id")
	if [[ $how == --wrapper ]]; then
		run ih_wrapped_runc run --bundle "$2" "$id" </dev/null
	else
		run ih_runc run --bundle "$2" "$id" </dev/null
	fi
	ih_log "runc run $id ($how): status $status"
	ih_log "output: $output"
}

# ih_start_detached [--wrapper|--no-wrapper] NAME BUNDLE: `runc run -d`;
# the container's stdio goes to $BATS_TEST_TMPDIR/NAME.out (a detached
# container would otherwise hold bats' output pipe open). Sets $status and
# $output (runc's and the hook's messages).
ih_start_detached() {
	local how=--wrapper
	case $1 in --wrapper | --no-wrapper) how=$1; shift ;; esac
	local id out=$BATS_TEST_TMPDIR/$1.out
	id=$(ih_cid "$1")
	IH_CIDS+=("$id")
	status=0
	if [[ $how == --wrapper ]]; then
		ih_wrapped_runc run -d --bundle "$2" "$id" </dev/null >"$out" 2>&1 || status=$?
	else
		ih_runc run -d --bundle "$2" "$id" </dev/null >"$out" 2>&1 || status=$?
	fi
	output=$(cat "$out")
	ih_log "runc run -d $id ($how): status $status"
	ih_log "output: $output"
}

# ih_delete [--wrapper|--no-wrapper] ID: kill and delete a container, which
# runs its poststop hooks.
ih_delete() {
	local how=--wrapper
	case $1 in --wrapper | --no-wrapper) how=$1; shift ;; esac
	if [[ $how == --wrapper ]]; then
		ih_wrapped_runc delete --force "$1"
	else
		ih_runc delete --force "$1"
	fi
}

# ih_podman ARGS...: podman with this test's hooks dir, runtime and label.
# Usage: ih_podman [--runtime PATH] run [podman run options] -- CMD...
# Adds the options these machines need (docs/testing.md).
ih_podman_run() {
	local runtime
	runtime=$(ih_wrapper)
	if [[ $1 == --runtime ]]; then
		runtime=$2
		shift 2
	fi
	local opts=()
	while (($#)) && [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	[[ ${1:-} == -- ]] && shift
	IH_USED_PODMAN=1
	timeout "$IH_TIMEOUT" "$IH_PODMAN" --runtime "$runtime" --hooks-dir "$IH_HOOKS_DIR" \
		run --rm --label "ima-hook-test=$IH_RUN_ID-$BATS_TEST_NUMBER" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none \
		"${opts[@]}" --rootfs "$IH_ROOTFS" "$@"
}

# ih_render_hooks_dir [BIN]: renders the shipped hooks.d templates into
# $IH_HOOKS_DIR for podman --hooks-dir: placeholders filled as `make install`
# does, then the test's binary, --config and IMA_HOOK_EMU_DIR added. The
# stages, match and timeout stay as shipped.
ih_render_hooks_dir() {
	local bin=${1:-$IH_EMU_BIN} t out
	mkdir -p "$IH_HOOKS_DIR"
	rm -f "$IH_HOOKS_DIR"/*.json
	local n=0
	for t in "$IH_HOOKS_TEMPLATES"/*.json.in; do
		[[ -e $t ]] || continue
		out=$IH_HOOKS_DIR/$(basename "${t%.in}")
		sed -e "s|@LIBEXECDIR@|/usr/local/libexec|g" "$t" |
			jq --arg bin "$bin" --arg cfg "$IH_CONFIG" --arg emu "IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR" '
				.hook.path = $bin
				| .hook.args += ["--config", $cfg]
				| .hook.env += [$emu]' >"$out"
		n=$((n + 1))
	done
	((n > 0)) || ih_fail "no hooks.d templates in $IH_HOOKS_TEMPLATES"
}

# --- keys and policies -------------------------------------------------------

# The emulated kernel loads a namespace's certificate only if a key in its
# .builtin_trusted_keys signed it (switch trusted_keyring_requires_ca, on
# by default: Kconfig's CONFIG_IMA_LOAD_X509 depends on
# CONFIG_IMA_TRUSTED_KEYRING, so every kernel that loads the certificate
# has it). So test certificates are signed by a test CA that the test's
# emulated kernel trusts, as a node's are by a CA its kernel was built with.

# ih_make_ca DIR: a test CA (EC P-256 key DIR/test-ca.pem, certificate
# DIR/test-ca.crt and .der), made once per DIR.
ih_make_ca() {
	local d=$1
	[[ -s $d/test-ca.der ]] && return 0
	mkdir -p "$d"
	# shellcheck disable=SC2015 # either step failing is the error
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ima-hook test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=keyCertSign" \
		-keyout "$d/test-ca.pem" -out "$d/test-ca.crt" >/dev/null 2>&1 &&
		openssl x509 -in "$d/test-ca.crt" -outform DER -out "$d/test-ca.der" ||
		{ ih_fail "openssl could not make the test CA"; return 1; }
}

# ih_trust_ca DIR: puts DIR's test CA into this test's emulated kernel's
# .builtin_trusted_keys ($IMA_HOOK_EMU_DIR/builtin-trusted-keys/).
ih_trust_ca() {
	mkdir -p "$IMA_HOOK_EMU_DIR/builtin-trusted-keys" &&
		cp "$1/test-ca.der" "$IMA_HOOK_EMU_DIR/builtin-trusted-keys/$(basename "$1")-test-ca.der"
}

# ih_sign_cert NAME OUTDIR PRIVDIR CADIR: an RSA key PRIVDIR/NAME.pem and its
# certificate OUTDIR/NAME.der (DER, subject key id = hash of the key, so
# its IMA key id is evmctl's) signed by CADIR's test CA (authority key id
# = the CA's, which the kernel finds the signing key by).
ih_sign_cert() {
	local name=$1 out=$2 priv=$3 ca=$4 tmp
	mkdir -p "$out" "$priv"
	tmp=$(mktemp -d)
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ima-hook test $name" \
		-keyout "$priv/$name.pem" -out "$tmp/req.csr" >/dev/null 2>&1 &&
		printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' >"$tmp/ext" &&
		openssl x509 -req -in "$tmp/req.csr" -CA "$ca/test-ca.crt" -CAkey "$ca/test-ca.pem" -set_serial "0x$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" \
			-days 2 -extfile "$tmp/ext" -outform DER -out "$out/$name.der" >/dev/null 2>&1
	local rc=$?
	rm -rf "$tmp"
	((rc == 0)) || { ih_fail "openssl could not sign a certificate for $name"; return 1; }
}

# ih_make_cert NAME [DIR]: a fresh RSA certificate in DER (what
# io.imans.x509 takes) as DIR/NAME.der (DIR defaults to the keys dir),
# signed by the test CA this test's emulated kernel trusts; prints the
# path. The private key is kept outside the keys dir, as
# $BATS_TEST_TMPDIR/private/NAME.pem, for signing with evmctl.
ih_make_cert() {
	local name=$1 dir=${2:-$IH_KEYS_DIR} ca=$BATS_TEST_TMPDIR/ca
	ih_make_ca "$ca" && ih_trust_ca "$ca" &&
		ih_sign_cert "$name" "$dir" "$BATS_TEST_TMPDIR/private" "$ca" || return 1
	echo "$dir/$name.der"
}

# ih_make_self_signed_cert NAME [DIR]: ih_make_cert without the CA: a
# certificate that no trusted key signed, which a kernel with
# CONFIG_IMA_TRUSTED_KEYRING drops.
ih_make_self_signed_cert() {
	local name=$1 dir=${2:-$IH_KEYS_DIR}
	mkdir -p "$dir" "$BATS_TEST_TMPDIR/private"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ima-hook test $name" \
		-addext "subjectKeyIdentifier=hash" \
		-keyout "$BATS_TEST_TMPDIR/private/$name.pem" -outform DER -out "$dir/$name.der" >/dev/null 2>&1 ||
		ih_fail "openssl could not make a certificate"
	echo "$dir/$name.der"
}

# ih_evmctl_keyid NAME: the IMA key id evmctl puts into a v2 signature made
# with NAME's private key (bytes 3-6 of the signature header), as 8 hex
# digits: an independent oracle for the key id the hook records.
ih_evmctl_keyid() {
	local f=$BATS_TEST_TMPDIR/private/$1.signed
	echo "ima-hook key id probe" >"$f"
	evmctl ima_sign --sigfile -a sha256 --key "$BATS_TEST_TMPDIR/private/$1.pem" "$f" >/dev/null 2>&1 ||
		{ ih_fail "evmctl ima_sign failed"; return 1; }
	# .sig file: 03 (EVM_IMA_XATTR_DIGSIG) 02 (v2) <hash algo> <keyid:4> ...
	od -An -tx1 -j3 -N4 "$f.sig" | tr -d ' \n'
}

# ih_write_policy NAME RULE...: writes RULEs one per line to the policies dir
# as NAME; prints the path.
ih_write_policy() {
	local name=$1 f
	shift
	f=$IH_POLICIES_DIR/$name
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

# ih_policy_rules N [SEED]: N distinct, valid measure/dont_measure rules
# (one per line on stdout); SEED makes the set differ between containers.
ih_policy_rules() {
	local n=$1 seed=${2:-0} i
	for ((i = 0; i < n; i++)); do
		case $((i % 5)) in
		0) echo "measure func=BPRM_CHECK uid=$((seed * 1000 + i))" ;;
		1) echo "measure func=FILE_CHECK mask=MAY_READ fowner=$((seed * 1000 + i))" ;;
		2) echo "dont_measure fsmagic=0x9fa0" ;;
		3) echo "measure func=MMAP_CHECK mask=MAY_EXEC uid=$((seed * 1000 + i))" ;;
		4) echo "dont_measure fsmagic=0x62656572" ;;
		esac
	done
}

# --- what the hook did -------------------------------------------------------

# ih_record ID: the hook's live record of container ID (pkg/record).
ih_record() { cat "$IH_RUN_DIR/$1.json"; }
# ih_archive ID: the archive directory of ID's latest life. Poststop
# archives each life of a container id in its own $IH_ARCHIVE_DIR/ID/<life>/
# (record.json, ascii_runtime_measurements); life names start with the
# creation time, so the last in order is the latest. Fails when there is none.
ih_archive() {
	local d latest=
	for d in "$IH_ARCHIVE_DIR/$1"/*/; do
		[[ -f ${d}record.json ]] && latest=${d%/}
	done
	[[ -n $latest ]] && echo "$latest"
}
# ih_archived_record ID: the record poststop archived (latest life).
ih_archived_record() { cat "$(ih_archive "$1")/record.json"; }

# ih_record_field ID JQ-PATH: one field of the live record, else of the
# latest archived one.
ih_record_field() {
	local f=$IH_RUN_DIR/$1.json
	[[ -e $f ]] || f=$(ih_archive "$1")/record.json
	jq -r "$2" "$f"
}

# ih_emu ARGS...: the emulator's own view (`ima-hook-emu emu ...`), with this
# test's state dir.
ih_emu() {
	IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR "$IH_EMU_BIN" emu "$@"
}

# ih_emu_switches KEY=VALUE...: choose the emulated kernel of this test
# (emukernel.Switches, e.g. write_policy=false read_policy=true): writes
# $IMA_HOOK_EMU_DIR/switches.json, over what is there already (the matrix's
# IH_EMU_SWITCHES). A VALUE that is JSON (true, 12, "x") is taken as such,
# anything else as a string. Must come before the first container or emu
# call: the emulator reads the file once, when it creates its state, and an
# unknown key makes every emulated process fail.
ih_emu_switches() {
	local f=$IMA_HOOK_EMU_DIR/switches.json kv k v cur
	[[ ! -s $IMA_HOOK_EMU_DIR/state.json ]] ||
		{ ih_fail "ih_emu_switches: the emulated kernel already runs (set switches before the first container)"; return 1; }
	cur='{}'
	[[ -s $f ]] && cur=$(cat "$f")
	for kv in "$@"; do
		[[ $kv == *=* ]] || { ih_fail "ih_emu_switches: '$kv' is not KEY=VALUE"; return 1; }
		k=${kv%%=*} v=${kv#*=}
		if jq . >/dev/null 2>&1 <<<"$v"; then
			cur=$(jq -c --arg k "$k" --argjson v "$v" '.[$k] = $v' <<<"$cur")
		else
			cur=$(jq -c --arg k "$k" --arg v "$v" '.[$k] = $v' <<<"$cur")
		fi
	done
	printf '%s\n' "$cur" >"$f"
	# Fail here, not in the first container, on a misspelt switch.
	ih_emu switches >/dev/null || { ih_fail "ih_emu_switches: the emulator refuses $f: $(cat "$f")"; return 1; }
}

# ih_switch NAME: the value of switch NAME of this test's emulated kernel
# (what the matrix or ih_emu_switches chose, else the default).
ih_switch() {
	ih_emu switches | jq -r --arg k "$1" 'if has($k) then .[$k] else error("no switch \($k)") end'
}

# ih_emu_has SUBCOMMAND: whether the emulated build offers `emu SUBCOMMAND`.
ih_emu_has() {
	"$IH_EMU_BIN" emu --help 2>&1 | grep -qw -- "$1"
}

# ih_ns_of_pid PID: the active IMA namespace id of PID as the emulated kernel
# sees it (`emu ns` prints "ima:[N] ima_for_children:[M]").
ih_ns_of_pid() {
	local out
	out=$(ih_emu ns "$1") || return 1
	out=${out#ima:[}
	echo "${out%%]*}"
}

# ih_emu_rules PID: the policy rules in force in PID's namespace, one a line.
ih_emu_rules() {
	ih_emu rules --pid "$1"
}

# ih_container_pid ID: the host pid of a running container's init.
ih_container_pid() {
	ih_runc state "$1" | jq -r .pid
}

# ih_expect_applied ID POLICY-FILE-OR-TEXT: the record of ID says the policy
# was applied in a namespace of its own whose policy hash matches.
ih_expect_applied() {
	local id=$1 want=$2 rec ns sha result
	if [[ -f $want ]]; then want=$(ih_sha256 "$want"); fi
	rec=$IH_RUN_DIR/$id.json
	[[ -e $rec ]] || rec=$(ih_archive "$id")/record.json
	[[ -e $rec ]] || { ih_fail "no record for $id in $IH_RUN_DIR or $IH_ARCHIVE_DIR"; return 1; }
	ns=$(jq -r .ns_id "$rec")
	sha=$(jq -r .policy_sha256 "$rec")
	result=$(jq -r .result "$rec")
	ih_log "record $id: ns=$ns policy_sha256=$sha result=$result"
	[[ $result == applied ]] || { ih_fail "record result is '$result', want applied"; return 1; }
	[[ $ns =~ ^[0-9]+$ && $ns -ne 0 && $ns -ne $IH_HOST_NS ]] ||
		{ ih_fail "namespace id '$ns' is not a container namespace"; return 1; }
	[[ $sha == "$want" ]] || { ih_fail "policy_sha256 $sha, want $want"; return 1; }
}
