package policy

import (
	"strings"
	"testing"
)

// SM3 in the policy grammar (issue 13.1): appraise_algos= takes the
// kernel's hash_algo_name spelling "sm3" (HASH_ALGO_SM3_256) on an openEuler
// kernel with an SM3 driver, with the other algorithms and with
// digest_type/appraise_type; its TPM and OpenSSL names get the kernel's
// spelling as the fix.
func TestSM3AppraiseAlgos(t *testing.T) {
	p := DefaultProfile() // openEuler: sm3 built in
	p.Features.AppraiseAlgos = true
	p.Features.DigestType = true
	for _, r := range []string{
		"appraise func=BPRM_CHECK appraise_algos=sm3",
		"appraise func=BPRM_CHECK appraise_type=imasig appraise_algos=sm3,sha256",
		"appraise func=SETXATTR_CHECK appraise_algos=sm3",
		"appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3 appraise_algos=sm3",
	} {
		if _, err := CheckRule(r, p); err != nil {
			t.Errorf("CheckRule(%q): %v", r, err)
		}
	}
	for _, a := range []string{"sm3_256", "SM3-256", "SM3", "sm3256"} {
		_, err := CheckRule("appraise func=BPRM_CHECK appraise_algos="+a, p)
		if err == nil || !strings.Contains(err.Error(), "the kernel spells it sm3") {
			t.Errorf("appraise_algos=%s: %v", a, err)
		}
	}
	// A kernel without an SM3 driver refuses it, naming what it has.
	delete(p.HashAlgos, "sm3")
	if _, err := CheckRule("appraise appraise_algos=sm3", p); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("sm3 without a driver: %v", err)
	}
	// The table is the kernel's: sm3 has index 17, HASH_ALGO_SM3_256.
	if hashAlgoNames[17] != "sm3" {
		t.Errorf("hash_algo_name[17] = %q", hashAlgoNames[17])
	}
}
