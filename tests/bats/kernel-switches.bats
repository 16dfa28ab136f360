#!/usr/bin/env bats
# The emulated kernel's switches (emukernel.Switches): the points of the
# openEuler IMA-namespace ABI that vary between kernels (build options) or
# that the sources could not settle. Each test reads the setting of the
# kernel it runs on (`ih_switch NAME`) and asserts what the hook and the
# wrapper do on a kernel of that kind, so the same test holds on both
# settings: `make test-bats` runs this file on the default switches, and the
# matrix (tests/bats/switch-matrix, tests/bats/switches.sh) runs it again
# with each switch in its other setting.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

@test "switches: ih_emu_switches chooses the kernel; a misspelt switch is refused before any container" {
	ih_emu_switches read_policy=true
	[ "$(ih_switch read_policy)" = true ]
	run ih_emu_switches no_such_switch=1
	[ "$status" -ne 0 ]
	[[ $output == *no_such_switch* ]] || ih_fail "the refusal does not name the switch: $output"
	rm -f "$IMA_HOOK_EMU_DIR/switches.json"
	ih_emu_switches read_policy=true
	# Once the kernel runs, its configuration is fixed.
	ih_emu count >/dev/null
	run ih_emu_switches read_policy=false
	[ "$status" -ne 0 ]
	[ "$(ih_switch read_policy)" = true ]
}

@test "max_ima_namespaces: a container beyond the limit is refused by the wrapper (clone_ima_ns inc_ucount ENOSPC)" {
	max=$(ih_switch max_namespaces)
	[[ $max =~ ^[0-9]+$ ]] || ih_fail "max_namespaces is '$max'"
	b=$(ih_bundle one /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true
	ih_add_hooks "$b"
	ih_start_detached one "$b"
	[ "$status" -eq 0 ] || ih_fail "first container: $output"
	b2=$(ih_bundle two /bin/true)
	ih_annotate "$b2" io.imans.enable=true
	ih_add_hooks "$b2"
	ih_run_container two "$b2"
	if ((max == 1)); then
		[ "$status" -ne 0 ] || ih_fail "a second namespace was created past max_ima_namespaces=1"
		[[ $output == *"no space left"* || $output == *ENOSPC* || $output == *max_ima_namespaces* ]] ||
			ih_fail "the refusal does not say the limit was reached: $output"
		[ "$(ih_count_hook_lines "$output")" -eq 1 ] || ih_fail "want one ima-hook line: $output"
	else
		[ "$status" -eq 0 ] || ih_fail "second container under max_namespaces=$max: $output"
	fi
}

# start_with_key NAME CERT: a detached container through the wrapper whose
# namespace is created with CERT (x509_for_children).
start_with_key() {
	local b
	b=$(ih_bundle "$1" /bin/sleep 300)
	# No custom policy: the key alone, whatever the policy switches say.
	ih_annotate "$b" io.imans.enable=true "io.imans.x509=$2"
	ih_add_hooks "$b"
	ih_start_detached "$1" "$b"
}

# key_in_namespace ID CERTNAME: the container's namespace has CERTNAME's key.
key_in_namespace() {
	local ns keyid
	ns=$(ih_record_field "$1" .ns_id)
	[[ $ns =~ ^[0-9]+$ ]] || return 1
	keyid=$(ih_evmctl_keyid "$2")
	[ "$(ih_emu namespaces | jq -r --argjson id "$ns" '.[] | select(.id == $id) | .key_ids[]?' |
		xargs -r printf '%08x\n' | grep -c "^$keyid$")" -eq 1 ]
}

# expect_missing_key LOAD READABLE NAME: the container was refused in one
# line that names the key id of certificate NAME and the cause this kernel
# (load_x509, kernel_config_readable) shows.
expect_missing_key() {
	local load=$1 readable=$2 name=$3
	[ "$status" -ne 0 ] || ih_fail "started although the kernel did not load the key"
	ih_expect_one_hook_line io.imans.x509
	[[ $output == *"$(ih_evmctl_keyid "$name")"* ]] || ih_fail "the refusal does not name the key id: $output"
	if [[ $readable == true && $load == false ]]; then
		[[ $output == *"without CONFIG_IMA_LOAD_X509"*"CONFIG_IMA_LOAD_X509=y"* ]] || ih_fail "does not name CONFIG_IMA_LOAD_X509: $output"
	elif [[ $readable == true ]]; then
		[[ $output == *"CONFIG_IMA_TRUSTED_KEYRING"*"sign the certificate with a CA"* ]] || ih_fail "does not name the trusted keyring: $output"
	else
		[[ $output == *CONFIG_IMA_LOAD_X509* && $output == *"trusted"* && $output == *"not readable"* ]] ||
			ih_fail "does not name both causes: $output"
	fi
}

@test "x509 key proven present: load_x509, trusted_keyring_requires_ca, kernel_config_readable" {
	ih_require_cmd openssl evmctl
	load=$(ih_switch load_x509)
	readable=$(ih_switch kernel_config_readable)
	# Signed by the test CA, which this kernel trusts: loaded by every
	# kernel that loads x509_for_children at all.
	cert=$(ih_make_cert tenant)
	start_with_key signed "$cert"
	id=$(ih_cid signed)
	if [[ $load == true ]]; then
		[ "$status" -eq 0 ] || ih_fail "start: $output"
		[ "$(ih_record_field "$id" .result)" = applied ] || ih_fail "record: $(ih_record "$id")"
		[ "$(ih_record_field "$id" .key_sha256)" = "$(ih_sha256 "$cert")" ] || ih_fail "record does not name the loaded key: $(ih_record "$id")"
		key_in_namespace "$id" tenant || ih_fail "the key is not in the namespace"
	else
		expect_missing_key "$load" "$readable" tenant
	fi
	# Self-signed: a kernel that loads the certificate has the trusted
	# keyring (Kconfig: CONFIG_IMA_LOAD_X509 depends on it), which drops it.
	self=$(ih_make_self_signed_cert stranger)
	start_with_key unsigned "$self"
	expect_missing_key "$load" "$readable" stranger
}

@test "x509 signed by the trusted CA but without an authority key id is dropped (restrict_link_by_signature)" {
	ih_require_cmd openssl evmctl
	[[ $(ih_switch load_x509) == true ]] || skip "this kernel never loads x509_for_children (load_x509=false): the test above covers it"
	# restrict_link_by_signature finds the signing key by the certificate's
	# authority key identifier; without one it is ENOKEY however valid the
	# signature is (OpenSSL 3's x509 -req adds one unless told not to).
	ca=$BATS_TEST_TMPDIR/ca
	ih_make_ca "$ca" && ih_trust_ca "$ca"
	mkdir -p "$BATS_TEST_TMPDIR/private"
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ima-hook test noakid" \
		-keyout "$BATS_TEST_TMPDIR/private/noakid.pem" -out "$T/noakid.csr" >/dev/null 2>&1
	printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=none\n' >"$T/noakid.ext"
	openssl x509 -req -in "$T/noakid.csr" -CA "$ca/test-ca.crt" -CAkey "$ca/test-ca.pem" -set_serial 7 -days 2 \
		-extfile "$T/noakid.ext" -outform DER -out "$IH_KEYS_DIR/noakid.der" >/dev/null 2>&1 || ih_fail "openssl"
	! openssl x509 -inform DER -in "$IH_KEYS_DIR/noakid.der" -noout -text | grep -q "Authority Key Identifier" ||
		ih_fail "openssl added an authority key id: the test proves nothing"
	openssl verify -CAfile "$ca/test-ca.crt" <(openssl x509 -inform DER -in "$IH_KEYS_DIR/noakid.der") >/dev/null ||
		ih_fail "the certificate is not signed by the CA: the test proves nothing"
	start_with_key noakid "$IH_KEYS_DIR/noakid.der"
	expect_missing_key true "$(ih_switch kernel_config_readable)" noakid
}

@test "policy loads per namespace: write_policy, read_policy, kernel_config_readable" {
	wp=$(ih_switch write_policy)
	rp=$(ih_switch read_policy)
	readable=$(ih_switch kernel_config_readable)
	for c in one two; do
		b=$(ih_bundle "$c" /bin/sleep 300)
		ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK uid=$((${#c} * 7))"
		ih_add_hooks "$b"
	done
	ih_start_detached one "$IH_BUNDLES_DIR/one"
	first=$status first_out=$output
	ih_start_detached two "$IH_BUNDLES_DIR/two"
	if [[ $wp == true ]]; then
		[ "$first" -eq 0 ] && [ "$status" -eq 0 ] || ih_fail "write_policy: both must start: $first_out / $output"
		return
	fi
	if [[ $readable == true ]]; then
		# Known from the kernel config before any load: refused up front.
		output=$first_out
		[ "$first" -ne 0 ] || ih_fail "the first container started on a kernel that loads one policy ever"
		ih_expect_one_hook_line kernel
		[[ $output == *CONFIG_IMA_WRITE_POLICY=y* ]] || ih_fail "no fix: $output"
		return
	fi
	# Config not readable: the first load works, then the policy file shows it.
	[ "$first" -eq 0 ] || ih_fail "first container: $first_out"
	[ "$status" -ne 0 ] || ih_fail "a second policy was loaded (write_policy=false read_policy=$rp)"
	ih_expect_one_hook_line kernel
	if [[ $rp == true ]]; then
		[[ $output == *"CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY"* ]] || ih_fail "$output"
	else
		[[ $output == *"policy file is gone"* ]] || ih_fail "$output"
	fi
	[[ $output == *CONFIG_IMA_WRITE_POLICY=y* ]] || ih_fail "no fix: $output"
}

@test "appraise_bootparam: ima_appraise= in the kcmd takes effect, or the container is refused (never silently enforced)" {
	bp=$(ih_switch appraise_bootparam)
	b=$(ih_bundle ap /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=ima_policy=tcb ima_appraise=log"
	ih_add_hooks "$b"
	ih_start_detached ap "$b"
	id=$(ih_cid ap)
	if [[ $bp == true ]]; then
		[ "$status" -eq 0 ] || ih_fail "start: $output"
		ns=$(ih_record_field "$id" .ns_id)
		[ "$(ih_emu namespaces | jq -r --argjson id "$ns" '.[] | select(.id == $id) | .appraise')" = log ] ||
			ih_fail "ima_appraise=log did not take effect: $(ih_emu namespaces)"
		return
	fi
	[ "$status" -ne 0 ] || ih_fail "started although the kernel ignored ima_appraise=log"
	ih_expect_one_hook_line io.imans.kcmd
	[[ $output == *CONFIG_IMA_APPRAISE_BOOTPARAM* ]] || ih_fail "$output"
}
