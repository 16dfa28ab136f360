#!/usr/bin/env bats
# Every kind of invalid IMA config keeps the container from starting and is
# reported as exactly one line "ima-hook: <annotation or file>: <problem>;
# <fix>". The containers run under plain runc with the hook (no wrapper):
# validation comes before anything else, so the message must name the
# config at fault, not the missing namespace. Nothing may be written.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

# refused NAME SUBJECT ANNOTATION...: runs a container with the annotations
# (io.imans.enable=true added) and checks it was refused with one error line
# whose subject is SUBJECT, and that the hook left nothing behind.
refused() {
	local name=$1 subject=$2
	shift 2
	local b
	b=$(ih_bundle "$name" /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "$@"
	ih_add_hooks "$b"
	ih_run_container --no-wrapper "$name" "$b"
	[ "$status" -ne 0 ] || ih_fail "the container started"
	[[ $output != *STARTED* ]] || ih_fail "the container's process ran"
	ih_expect_one_hook_line "$subject"
	[[ $output == *"error running hook"* ]] || ih_fail "runc did not report a hook failure"
	# Nothing written: no live record, no archive, no namespace populated.
	! compgen -G "$IH_RUN_DIR/*.json" >/dev/null || ih_fail "a record was written: $(ls "$IH_RUN_DIR")"
	[ -z "$(ih_runc list -q)" ] || ih_fail "a container is left"
}

@test "invalid: unknown kcmd parameter" {
	refused kcmd-param io.imans.kcmd "io.imans.kcmd=ima_hash=sha512"
	[[ $output == *ima_hash* ]]
}

@test "invalid: kcmd parameter without a value" {
	refused kcmd-novalue io.imans.kcmd "io.imans.kcmd=ima_policy"
	[[ $output == *ima_policy* ]]
}

@test "invalid: kcmd value the kernel does not know" {
	refused kcmd-value io.imans.kcmd "io.imans.kcmd=ima_policy=tcb ima_appraise=sometimes"
	[[ $output == *sometimes* ]]
}

@test "invalid: ima_template in kcmd while the admin has not allowed it" {
	refused kcmd-template io.imans.kcmd "io.imans.kcmd=ima_template=ima-ns"
	[[ $output == *allow_template* ]]
}

@test "invalid: x509 outside keys_dir" {
	cert=$(ih_make_cert outside "$BATS_TEST_TMPDIR/elsewhere")
	refused x509-outside io.imans.x509 "io.imans.x509=$cert"
}

@test "invalid: x509 symlink inside keys_dir escaping it" {
	cert=$(ih_make_cert target "$BATS_TEST_TMPDIR/elsewhere")
	ln -s "$cert" "$IH_KEYS_DIR/escape.der"
	refused x509-symlink io.imans.x509 "io.imans.x509=$IH_KEYS_DIR/escape.der"
}

@test "invalid: x509 with .. escaping keys_dir" {
	cert=$(ih_make_cert target "$BATS_TEST_TMPDIR/elsewhere")
	refused x509-dotdot io.imans.x509 "io.imans.x509=$IH_KEYS_DIR/../elsewhere/target.der"
}

@test "invalid: x509 that is not a certificate" {
	head -c 700 /dev/urandom >"$IH_KEYS_DIR/random.der"
	refused x509-garbage io.imans.x509 "io.imans.x509=$IH_KEYS_DIR/random.der"
}

@test "invalid: x509 in PEM instead of DER" {
	cert=$(ih_make_cert pem)
	openssl x509 -inform DER -in "$cert" -out "$IH_KEYS_DIR/pem.crt"
	refused x509-pem io.imans.x509 "io.imans.x509=$IH_KEYS_DIR/pem.crt"
}

@test "invalid: x509 file missing" {
	refused x509-missing io.imans.x509 "io.imans.x509=$IH_KEYS_DIR/nope.der"
}

@test "invalid: policy syntax error names the rule number and the token" {
	refused pol-syntax io.imans.policy-rules \
		$'io.imans.policy-rules=measure func=BPRM_CHECK\nmeasure func=BPRM_CHEK'
	line=$(grep -o 'ima-hook: .*' <<<"$output")
	[[ $line == *BPRM_CHEK* ]]
	[[ $line =~ (rule|line)[^0-9]{0,3}2 ]]
}

@test "invalid: policy file with an unknown action names the file, rule and token" {
	pol=$(ih_write_policy bad.policy "measure func=BPRM_CHECK" "dont_measure fsmagic=0x9fa0" "mesure func=FILE_CHECK")
	refused pol-file-syntax "$pol" "io.imans.policy=$pol"
	line=$(grep -o 'ima-hook: .*' <<<"$output")
	[[ $line == *mesure* ]]
	[[ $line =~ (rule|line)[^0-9]{0,3}3 ]]
}

@test "invalid: policy file too large" {
	pol=$IH_POLICIES_DIR/huge.policy
	# 1 MiB + a little of valid rules: the size bound, not the grammar, refuses it.
	yes "measure func=BPRM_CHECK mask=MAY_EXEC" | head -c $((1024 * 1024 + 4096)) >"$pol"
	refused pol-large io.imans.policy "io.imans.policy=$pol"
}

@test "invalid: policy file missing" {
	refused pol-missing io.imans.policy "io.imans.policy=$IH_POLICIES_DIR/absent.policy"
}

@test "invalid: policy file outside policies_dir" {
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
	printf 'measure func=BPRM_CHECK\n' >"$BATS_TEST_TMPDIR/elsewhere/p.policy"
	refused pol-outside io.imans.policy "io.imans.policy=$BATS_TEST_TMPDIR/elsewhere/p.policy"
}

@test "invalid: policy file and inline rules together" {
	pol=$(ih_write_policy p.policy "measure func=BPRM_CHECK")
	refused pol-both io.imans.policy "io.imans.policy=$pol" "io.imans.policy-rules=measure func=FILE_CHECK"
}

@test "invalid: unknown io.imans.* annotation" {
	refused unknown io.imans.polcy "io.imans.polcy=/etc/ima-hook/policies/x"
}

@test "invalid: io.imans.required is not a boolean" {
	refused required io.imans.required "io.imans.required=maybe"
}

@test "invalid: io.imans.enable is not a boolean" {
	# runc runs the hook whatever the annotation says (no hooks.d match).
	local b
	b=$(ih_bundle enable /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=yes
	ih_add_hooks "$b"
	ih_run_container --no-wrapper enable "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	ih_expect_one_hook_line io.imans.enable
}

@test "invalid: annotations overriding the admin's defaults when allow_annotation_override=false" {
	ih_write_admin_config --top 'allow_annotation_override = false'
	refused override io.imans.kcmd "io.imans.kcmd=ima_policy=tcb"
	[[ $output == *allow_annotation_override* ]]
}

@test "invalid: a broken admin config names the file" {
	printf 'keys_dir = "%s"\nno_such_setting = 1\n' "$IH_KEYS_DIR" >"$IH_CONFIG"
	local b
	b=$(ih_bundle admin /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK"
	ih_add_hooks "$b"
	ih_run_container --no-wrapper admin "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	# runc also runs poststop after the failed create, and poststop cannot
	# read the config either: runc logs that as a separate warning. The
	# create failure itself carries exactly one ima-hook line.
	output=$(grep 'runc run failed' <<<"$output")
	ih_expect_one_hook_line "$IH_CONFIG"
	[[ $output == *no_such_setting* ]]
}

@test "invalid: the wrapper refuses the same config before runc starts" {
	# Behind the wrapper the same validation runs first; the user still
	# sees one line naming the annotation.
	local b
	b=$(ih_bundle wrapped /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=ima_hash=sha512"
	ih_add_hooks "$b"
	ih_run_container --wrapper wrapped "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	ih_expect_one_hook_line io.imans.kcmd
	run compgen -G "$IH_RUN_DIR/*.json"
	[ "$status" -ne 0 ]
}

# admin_defaults_refused NAME SUBJECT DEFAULT...: an admin config whose
# [defaults] are invalid makes `status` say "ready: no" with the one line
# (exit 2), and a container asking for IMA is refused with that same line.
admin_defaults_refused() {
	local name=$1 subject=$2
	shift 2
	local args=() d
	for d in "$@"; do args+=(--default "$d"); done
	ih_write_admin_config "${args[@]}"
	run "$IH_EMU_BIN" status --config "$IH_CONFIG"
	[ "$status" -eq 2 ] || ih_fail "status exit $status: $output"
	local ready
	ready=$(grep '^ready:' <<<"$output")
	[[ $ready == "ready:                  no: ima-hook: $subject"* ]] || ih_fail "status: $output"
	local b
	b=$(ih_bundle "$name" /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true
	ih_add_hooks "$b"
	ih_run_container --no-wrapper "$name" "$b"
	[ "$status" -ne 0 ] || ih_fail "the container started"
	[[ $output != *STARTED* ]] || ih_fail "the container's process ran"
	output=$(grep 'runc run failed' <<<"$output")
	ih_expect_one_hook_line "$subject"
}

@test "invalid: admin [defaults] kcmd is reported by status before containers are refused" {
	admin_defaults_refused defaults-kcmd "$IH_CONFIG defaults.kcmd" 'kcmd = "ima_hash=sha1"'
	[[ $output == *ima_hash* ]]
}

@test "invalid: admin [defaults] with both policy and policy_rules is reported by status" {
	ih_write_policy p.policy "measure func=BPRM_CHECK" >/dev/null
	admin_defaults_refused defaults-both "$IH_CONFIG defaults" 'policy = "p.policy"' 'policy_rules = "measure func=FILE_CHECK"'
}

@test "invalid: admin [defaults] naming a missing key is reported by status" {
	admin_defaults_refused defaults-x509 "$IH_CONFIG defaults.x509" 'x509 = "gone.der"'
}

@test "invalid: an empty policy file refuses the container" {
	: >"$IH_POLICIES_DIR/empty.policy"
	refused pol-empty io.imans.policy "io.imans.policy=$IH_POLICIES_DIR/empty.policy"
	[[ $output == *"has no rules (it is empty)"* ]]
}
