#!/bin/bash
# Regenerates the SM2/SM3 test vectors in testdata/sm2 with OpenSSL (3.x,
# SM2 support) and evmctl (ima-evm-utils >= 1.4): the signatures are what
# `evmctl ima_sign --hashalgo sm3 --key sm2.pem` writes into security.ima,
# so the Go tests check ima-hook against evmctl's output without needing
# evmctl themselves. Run as root (evmctl writes security.ima):
#
#   pkg/keys/testdata/gen-sm2.sh
#
# The private key is a throw-away test key; it is kept so the vectors can
# be re-derived. Files written (all under testdata/sm2):
#   sm2.key.pem     SM2 private key (openssl genpkey -algorithm SM2)
#   cert.der        self-signed SM2-with-SM3 certificate, SKID = sha1 of the key, signed with
#                   the default user id "1234567812345678" (-sigopt distid:...), which is the id
#                   the kernel verifies a self-signed SM2 certificate with
#   cert-noid.der   the same, as OpenSSL 3 signs it without -sigopt (an empty id): the kernel's
#                   x509_check_for_self_signed fails on it, add_key refuses it (EKEYREJECTED)
#   cert.pem        the same certificate in PEM
#   content         the signed file's content
#   sig-sm3.ima     security.ima from evmctl ima_sign --hashalgo sm3 (v2 signature)
#   sig-sha256.ima  an SM2 signature over the sha256 digest in a v2 header with algo sha256 (OpenSSL
#                   and so evmctl refuse to make one, and so does the kernel: it must fail)
#   hash-sm3.ima    security.ima from evmctl ima_hash --hashalgo sm3 (IMA_XATTR_DIGEST_NG, algo 17)
#   sig-za.ima      a v2 header around `openssl dgst -sm3 -sign` (SM2 over SM3(ZA || content)):
#                   the form IMA does NOT use, which must fail
#   evmctl-verify.txt  evmctl ima_verify's exit codes for content and for tampered content
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/sm2
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl genpkey -algorithm SM2 -out "$out/sm2.key.pem"
req() {
	openssl req -new -x509 -key "$out/sm2.key.pem" -sm3 -subj /CN=ima-hook-sm2-test \
		-addext subjectKeyIdentifier=hash -addext basicConstraints=CA:FALSE \
		-addext keyUsage=digitalSignature -days 36500 -outform DER "$@"
}
req -sigopt distid:1234567812345678 -out "$out/cert.der"
req -out "$out/cert-noid.der"
openssl x509 -inform DER -in "$out/cert.der" -out "$out/cert.pem"

printf 'ima-hook SM2/SM3 test vector\n' >"$out/content"
f=$work/f
xattr() { getfattr --absolute-names --only-values -n security.ima "$1"; }

cp "$out/content" "$f"
evmctl ima_sign --hashalgo sm3 --key "$out/sm2.key.pem" "$f" >/dev/null
xattr "$f" >"$out/sig-sm3.ima"
# evmctl in both directions: the signed file verifies, a tampered one fails.
ok=0; evmctl ima_verify --key "$out/cert.der" "$f" >/dev/null 2>&1 || ok=$?
printf 'x' >>"$f"
bad=0; evmctl ima_verify --key "$out/cert.der" "$f" >/dev/null 2>&1 || bad=$?
printf 'content %d\ntampered %d\n' "$ok" "$bad" >"$out/evmctl-verify.txt"

# v2 header: type 3, version 2, hash algo, key id (from evmctl's value),
# big-endian size, signature.
keyid=$(head -c 7 "$out/sig-sm3.ima" | tail -c 4 | od -An -tx1 | tr -d ' \n')
header() { # algo-byte-hex sigfile
	local size; size=$(stat -c %s "$2")
	# the format is the header's bytes as \x escapes, built on purpose
	# shellcheck disable=SC2059,SC2001
	printf "\\x03\\x02\\x$1$(echo "$keyid" | sed 's/../\\x&/g')\\x$(printf %02x $((size >> 8)))\\x$(printf %02x $((size & 255)))"
	cat "$2"
}
openssl dgst -sha256 -binary -out "$work/sha256" "$out/content"
openssl pkeyutl -sign -inkey "$out/sm2.key.pem" -in "$work/sha256" -out "$work/sha256.sig"
header 04 "$work/sha256.sig" >"$out/sig-sha256.ima"

cp "$out/content" "$f"
evmctl ima_hash --hashalgo sm3 "$f" >/dev/null
xattr "$f" >"$out/hash-sm3.ima"

# The ZA form: same key id and header as evmctl's, signature from
# openssl dgst (which hashes ZA of the default id, then the content).
openssl dgst -sm3 -sigopt distid:1234567812345678 -sign "$out/sm2.key.pem" -out "$work/za.sig" "$out/content"
header 11 "$work/za.sig" >"$out/sig-za.ima"
echo "wrote $out (key id $keyid)"
