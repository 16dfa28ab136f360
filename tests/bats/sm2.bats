#!/usr/bin/env bats
# An SM2 certificate as a container's key (issue 13.2), end to end on the
# emulated kernel: io.imans.x509 names a DER SM2 certificate made by
# OpenSSL (signed by an SM2 CA the emulated kernel trusts); the wrapper
# hands it to x509_for_children, the namespace's keyring holds it under the
# key id evmctl signs with, and the hook's record says the same. A certificate
# OpenSSL signed with its default empty SM2 id (which the kernel rejects)
# is refused before anything is created.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
	ih_require_cmd openssl evmctl
	openssl genpkey -algorithm SM2 -out "$T/sm2.pem" 2>/dev/null || skip "this OpenSSL cannot make SM2 keys"
	mkdir -p "$IH_KEYS_DIR"
	sm2_req() {
		openssl req -new -x509 -key "$T/sm2.pem" -sm3 -subj /CN=ima-hook-sm2 \
			-addext subjectKeyIdentifier=hash -addext basicConstraints=CA:FALSE \
			-addext keyUsage=digitalSignature -days 2 -outform DER "$@"
	}
	# The tenant's certificate is signed by an SM2 CA that the emulated
	# kernel trusts (.builtin_trusted_keys): a kernel that loads
	# x509_for_children has CONFIG_IMA_TRUSTED_KEYRING and drops anything
	# else. Both signatures use the default SM2 id, as the kernel checks.
	openssl genpkey -algorithm SM2 -out "$T/sm2-ca.pem" 2>/dev/null
	openssl req -new -x509 -key "$T/sm2-ca.pem" -sm3 -sigopt distid:1234567812345678 -subj /CN=ima-hook-sm2-ca \
		-addext subjectKeyIdentifier=hash -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign \
		-days 2 -out "$T/sm2-ca.crt" || ih_fail "openssl: no SM2 CA"
	mkdir -p "$IMA_HOOK_EMU_DIR/builtin-trusted-keys"
	openssl x509 -in "$T/sm2-ca.crt" -outform DER -out "$IMA_HOOK_EMU_DIR/builtin-trusted-keys/sm2-ca.der"
	openssl req -new -key "$T/sm2.pem" -sm3 -sigopt distid:1234567812345678 -subj /CN=ima-hook-sm2 -out "$T/sm2.csr"
	printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' >"$T/sm2.ext"
	openssl x509 -req -in "$T/sm2.csr" -vfyopt distid:1234567812345678 -CA "$T/sm2-ca.crt" -CAkey "$T/sm2-ca.pem" \
		-sm3 -sigopt distid:1234567812345678 -set_serial 2 -days 2 -extfile "$T/sm2.ext" \
		-outform DER -out "$IH_KEYS_DIR/sm2.der" 2>/dev/null || ih_fail "openssl: cannot sign the SM2 certificate"
	sm2_req -out "$IH_KEYS_DIR/sm2-noid.der"
}

teardown() { ih_teardown; }

@test "emulated kernel: an SM2 certificate in io.imans.x509 is the namespace's key, with evmctl's key id" {
	printf 'probe\n' >"$T/probe"
	evmctl ima_sign --sigfile --hashalgo sm3 --key "$T/sm2.pem" "$T/probe" >/dev/null 2>&1 || ih_fail "evmctl cannot sign with SM2"
	keyid=$(od -An -tx1 -j3 -N4 "$T/probe.sig" | tr -d ' \n')
	[ "$(od -An -tx1 -j2 -N1 "$T/probe.sig" | tr -d ' ')" = 11 ] || ih_fail "evmctl's signature is not over sm3"

	b=$(ih_bundle sm2 /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.x509=$IH_KEYS_DIR/sm2.der" \
		"io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid sm2)
	ih_start_detached sm2 "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	ns=$(ih_ns_of_pid "$(ih_container_pid "$id")")
	[ "$ns" != "$IH_HOST_NS" ] || ih_fail "container in the host namespace"
	j=$(ih_emu namespaces | jq --argjson id "$ns" '.[] | select(.id == $id)')
	[ "$(printf '%08x' "$(jq -r '.key_ids[0]' <<<"$j")")" = "$keyid" ] || ih_fail "SM2 key $keyid not in the namespace keyring: $j"
	[ "$(ih_record_field "$id" .key_id)" = "$keyid" ] || ih_fail "record key id $(ih_record_field "$id" .key_id), evmctl $keyid"
	[ "$(ih_record_field "$id" .result)" = applied ] || ih_fail "record: $(cat "$IH_RUN_DIR/$id.json")"
}

@test "an SM2 certificate signed with OpenSSL's empty id is refused before a namespace exists, naming the fix" {
	b=$(ih_bundle noid /bin/true)
	ih_annotate "$b" io.imans.enable=true "io.imans.x509=$IH_KEYS_DIR/sm2-noid.der"
	ih_add_hooks "$b"
	id=$(ih_cid noid)
	ih_run_container noid "$b"
	[ "$status" -ne 0 ] || ih_fail "started with a certificate the kernel rejects"
	[[ $output == *"ima-hook: io.imans.x509"*"EKEYREJECTED"*"distid:1234567812345678"* ]] || ih_fail "no one-line reason: $output"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace was created"
}
