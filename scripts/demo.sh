#!/usr/bin/env bash
# The README's demo: busybox containers under podman and under runc, each
# with ima-hook on the emulated IMA-namespace kernel (bin/ima-hook-emu),
# printing each container's IMA state; then a refused config and an
# unannotated container for contrast.
#
# Everything lives in a temp dir (admin config, keys, policies, records,
# emulator state): the demo touches neither /etc/ima-hook nor /run/ima-hook.
# Needs root, podman, runc, jq, openssl, busybox-static; `make demo` builds
# the binaries first.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
emu=${IMA_HOOK_EMU_BIN:-$repo/bin/ima-hook-emu}
runc=$(command -v runc)
podman=$(command -v podman)
[[ $EUID -eq 0 ]] || { echo "demo: run as root" >&2; exit 1; }
[[ -x $emu ]] || { echo "demo: $emu missing; run make build-emu" >&2; exit 1; }

. "$repo/scripts/lib.sh"
cids=()
ih_cleanup_extra() {
	for id in "${cids[@]}"; do "$podman" rm -f "$id" >/dev/null 2>&1 || true; done
}
ih_workdir demo

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
indent() { sed 's/^/   | /'; }

# --- set-up ----------------------------------------------------------------
rootfs=$work/rootfs
ih_busybox_rootfs "$rootfs"

mkdir -p "$work"/{emu,hooks.d,private}
cfg=$work/ima-hook.toml
ih_admin_config "$cfg" "$runc"
export IMA_HOOK_EMU_DIR=$work/emu
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

cat >"$work/policies/web.policy" <<'EOF'
dont_measure fsmagic=0x9fa0
dont_measure fsmagic=0x62656572
measure func=BPRM_CHECK mask=MAY_EXEC
measure func=MMAP_CHECK mask=MAY_EXEC
EOF
cat >"$work/policies/batch.policy" <<'EOF'
measure func=BPRM_CHECK mask=MAY_EXEC uid=0
measure func=FILE_CHECK mask=MAY_READ uid=0
EOF
# The tenant's key. A kernel that loads a namespace's certificate at all
# (CONFIG_IMA_LOAD_X509) has the trusted keyring too, and drops a
# certificate no built-in or secondary trusted key signed; so the demo signs
# it with a demo CA and makes that CA a built-in key of the emulated kernel
# (its .builtin_trusted_keys are the files in builtin-trusted-keys/). On a
# node, the CA is one whose key is built into the kernel or enrolled in
# .secondary_trusted_keys (docs/keys.md).
mkdir -p "$IMA_HOOK_EMU_DIR/builtin-trusted-keys"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ima-hook demo CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=keyCertSign" \
	-keyout "$work/private/ca.pem" -out "$work/private/ca.crt" >/dev/null 2>&1
openssl x509 -in "$work/private/ca.crt" -outform DER -out "$IMA_HOOK_EMU_DIR/builtin-trusted-keys/demo-ca.der"
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ima-hook demo tenant" \
	-keyout "$work/private/tenant.pem" -out "$work/private/tenant.csr" >/dev/null 2>&1
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' >"$work/private/tenant.ext"
openssl x509 -req -in "$work/private/tenant.csr" -CA "$work/private/ca.crt" -CAkey "$work/private/ca.pem" \
	-set_serial 1 -days 2 -extfile "$work/private/tenant.ext" -outform DER -out "$work/keys/tenant.der" >/dev/null 2>&1

# The runtime wrapper with the demo's config (installed systems use the
# ima-runtime symlink and /etc/ima-hook/ima-hook.toml).
wrapper=$work/bin/ima-runtime
cat >"$wrapper" <<EOF
#!/bin/sh
IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR
export IMA_HOOK_EMU_DIR
exec $emu runtime --config $cfg --runtime $runc -- "\$@"
EOF
chmod +x "$wrapper"

# hooks.d for podman: the shipped templates as `make install` fills them,
# pointed at the emulated build and the demo's config.
for t in "$repo"/hooks.d/*.json.in; do
	sed -e "s|@LIBEXECDIR@|/usr/local/libexec|g" "$t" |
		jq --arg bin "$emu" --arg cfg "$cfg" --arg emu "IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR" \
			'.hook.path = $bin | .hook.args += ["--config", $cfg] | .hook.env += [$emu]' \
			>"$work/hooks.d/$(basename "${t%.in}")"
done

show_state() { # ID PID
	local id=$1 pid=$2 rec=$work/run/$1.json
	say "record $rec:"
	jq '{ns_id, ns_created_by_wrapper, result, kcmd, key_id, policy_sha256, policy_rules, template, measurement_count, ns_aggregate_present}' "$rec" | indent
	say "emulated kernel, /proc/$pid/ns/ima of the container's init vs the host's init:"
	{ echo "container: $("$emu" emu ns "$pid")"; echo "host:      $("$emu" emu ns 1)"; } | indent
	say "policy in force in the container's namespace:"
	"$emu" emu rules --pid "$pid" | indent
	say "the namespace's measurement list (what a reader inside it sees):"
	"$emu" emu list --pid "$pid" | sed '/^$/d' | indent
	say "ima-hook measurements --container ${id:0:12}... --verify --template-only (the host list, filtered by its record):"
	"$emu" measurements --container "$id" --run-dir "$work/run" --archive-dir "$work/archive" \
		--verify --template-only 2>&1 | indent
}

bold "ima-hook demo (emulated IMA-namespace kernel; this kernel: $(uname -r))"
"$emu" version | indent

# --- podman --------------------------------------------------------------
bold "1. podman: busybox with io.imans.enable, its own policy file and key"
say "podman --runtime ima-runtime --hooks-dir ... run --annotation io.imans.enable=true \\"
say "    --annotation io.imans.policy=web.policy --annotation io.imans.x509=tenant.der ..."
"$podman" --runtime "$wrapper" --hooks-dir "$work/hooks.d" run -d \
	--cidfile "$work/podman.cid" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none \
	--annotation io.imans.enable=true \
	--annotation "io.imans.policy=$work/policies/web.policy" \
	--annotation "io.imans.x509=$work/keys/tenant.der" \
	--rootfs "$rootfs" /bin/sleep 120 >/dev/null
cid=$(cat "$work/podman.cid")
cids+=("$cid")
show_state "$cid" "$("$podman" inspect -f '{{.State.Pid}}' "$cid")"
say "evmctl's key id for the same key: $(echo probe >"$work/private/f" &&
	evmctl ima_sign --sigfile -a sha256 --key "$work/private/tenant.pem" "$work/private/f" >/dev/null 2>&1 &&
	od -An -tx1 -j3 -N4 "$work/private/f.sig" | tr -d ' \n')"
"$podman" rm -f -t 0 "$cid" >/dev/null
for _ in $(seq 100); do compgen -G "$work/archive/$cid/*/record.json" >/dev/null && break; sleep 0.1; done
say "after podman rm, poststop archived (one directory per life of the container id):"
(cd "$work/archive/$cid" && ls -1d -- */*) | indent

# --- runc --------------------------------------------------------------------
bold "2. runc: busybox bundle with io.imans.enable and inline rules, through ima-runtime"
bundle=$work/bundle
mkdir -p "$bundle"
(cd "$bundle" && "$runc" spec)
hook() { jq -n --arg bin "$emu" --arg stage "$1" --arg cfg "$cfg" --arg p "PATH=$path" --arg e "IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR" \
	'{path: $bin, args: ["ima-hook", "hook", "--stage", $stage, "--config", $cfg], env: [$p, $e], timeout: 30}'; }
jq --arg root "$rootfs" --arg pol "$work/policies/batch.policy" \
	--argjson c "$(hook createRuntime)" --argjson p "$(hook poststop)" '
	.process.terminal = false | .process.args = ["/bin/sleep", "120"]
	| .root = {path: $root, readonly: true}
	| .annotations = {"io.imans.enable": "true", "io.imans.kcmd": "ima_policy=tcb ima_appraise=log",
	                  "io.imans.policy": $pol}
	| .hooks = {createRuntime: [$c], poststop: [$p]}' "$bundle/config.json" >"$bundle/c.json"
mv "$bundle/c.json" "$bundle/config.json"
say "ima-runtime run -d --bundle $bundle demo-runc"
"$wrapper" --root "$work/runc" run -d --bundle "$bundle" demo-runc </dev/null >/dev/null 2>"$work/runc.err" ||
	{ cat "$work/runc.err"; exit 1; }
show_state demo-runc "$("$runc" --root "$work/runc" state demo-runc | jq -r .pid)"
"$wrapper" --root "$work/runc" delete --force demo-runc
say "after delete, poststop archived:"
(cd "$work/archive/demo-runc" && ls -1d -- */*) | indent

# --- refused ------------------------------------------------------------------
bold "3. a wrong config never starts: io.imans.kcmd=ima_hash=sha1"
jq '.process.args = ["/bin/echo", "this must not print"] | .annotations["io.imans.kcmd"] = "ima_hash=sha1"' \
	"$bundle/config.json" >"$bundle/c.json" && mv "$bundle/c.json" "$bundle/config.json"
if "$runc" --root "$work/runc" run --bundle "$bundle" demo-refused </dev/null >"$work/refused.out" 2>&1; then
	echo "demo: the container started" >&2
	exit 1
fi
say "runc says:"
grep -o 'ima-hook: .*' "$work/refused.out" | sed -e 's/\\n"$//' -e 's/\\"/"/g' | indent

# --- unannotated --------------------------------------------------------------
bold "4. podman without the annotation: the hooks.d match keeps the hook out"
"$podman" --runtime "$wrapper" --hooks-dir "$work/hooks.d" run --rm \
	--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none \
	--rootfs "$rootfs" /bin/sh -c 'echo "container says hello; no IMA namespace was made for it"' | indent
say "records written: $(find "$work/run" -name '*.json' | wc -l) live (the annotated ones were archived)"

bold "done"
