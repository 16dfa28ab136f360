package config

import (
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/kconfig"
)

func TestCheckNamespace(t *testing.T) {
	a := BuiltinAdmin()
	resolve := func(ann map[string]string) *Config {
		t.Helper()
		ann[AnnEnable] = "true"
		c, err := Resolve(ann, a)
		if err != nil || c == nil {
			t.Fatalf("resolve %v: %v", ann, err)
		}
		return c
	}
	inline := map[string]string{AnnKcmd: "ima_policy=appraise_tcb", AnnPolicyRules: "measure func=BPRM_CHECK"}
	_, err := resolve(inline).CheckNamespace(true, nil)
	if err == nil || !strings.HasPrefix(userror.Line(err), "ima-hook: io.imans.policy-rules: the namespace appraises its own policy") {
		t.Errorf("inline rules in a namespace appraising its policy: %v", err)
	}
	if w, err := resolve(map[string]string{AnnKcmd: "ima_policy=tcb", AnnPolicyRules: "measure func=BPRM_CHECK"}).CheckNamespace(true, nil); err != nil || w != nil {
		t.Errorf("plain inline rules: %v %v", w, err)
	}
	appraise := map[string]string{AnnKcmd: "ima_policy=tcb ima_appraise=log"}
	if _, err := resolve(appraise).CheckNamespace(true, nil); err != nil {
		t.Errorf("ima_appraise in a namespace the wrapper creates: %v", err)
	}
	if _, err := resolve(appraise).CheckNamespace(false, nil); err == nil || !strings.Contains(err.Error(), "can only be set when the namespace is created") {
		t.Errorf("ima_appraise without the wrapper, required: %v", err)
	}
	// A kernel that ignores ima_appraise= (no CONFIG_IMA_APPRAISE_BOOTPARAM)
	// would enforce silently: refused where the wrapper creates.
	noBootparam := &kconfig.Config{Source: "/boot/config-x", Values: map[string]string{"CONFIG_IMA_APPRAISE_BOOTPARAM": "n"}}
	if _, err := resolve(appraise).CheckNamespace(true, noBootparam); err == nil || !strings.Contains(userror.Line(err), "ima-hook: io.imans.kcmd: ima_appraise=log is ignored by this kernel, built without CONFIG_IMA_APPRAISE_BOOTPARAM (/boot/config-x)") {
		t.Errorf("ima_appraise on a kernel without the boot parameter: %v", err)
	}
	withBootparam := &kconfig.Config{Source: "/boot/config-y", Values: map[string]string{"CONFIG_IMA_APPRAISE_BOOTPARAM": "y"}}
	if _, err := resolve(appraise).CheckNamespace(true, withBootparam); err != nil {
		t.Errorf("ima_appraise on a kernel with the boot parameter: %v", err)
	}
	appraise[AnnRequired] = "false"
	if w, err := resolve(appraise).CheckNamespace(false, nil); err != nil || len(w) != 1 || !strings.Contains(w[0], "ignored because io.imans.required=false") {
		t.Errorf("ima_appraise without the wrapper, optional: %v %v", w, err)
	}
}

// The wrapper reads the kernel config only when KernelConfigMatters says
// so: for every other configuration, CheckNamespace must answer the same
// with no kernel config as with kernels with and without the option.
func TestKernelConfigMattersOnlyForAppraiseModes(t *testing.T) {
	a := BuiltinAdmin()
	kernels := []*kconfig.Config{
		nil,
		{Source: "/boot/config-x", Values: map[string]string{"CONFIG_IMA_APPRAISE_BOOTPARAM": "n"}},
		{Source: "/boot/config-y", Values: map[string]string{"CONFIG_IMA_APPRAISE_BOOTPARAM": "y"}},
		{Source: "/boot/config-z", Values: map[string]string{}},
	}
	for _, kcmd := range []string{"ima_policy=tcb", "ima_policy=appraise_tcb", "ima_policy=tcb ima_appraise=enforce",
		"ima_policy=tcb ima_appraise=log", "ima_policy=tcb ima_appraise=fix", "ima_policy=tcb ima_appraise=off",
		"ima_policy=fail_securely ima_appraise=log"} {
		c, err := Resolve(map[string]string{AnnEnable: "true", AnnKcmd: kcmd}, a)
		if err != nil || c == nil {
			t.Fatalf("resolve %q: %v", kcmd, err)
		}
		var lines []string
		for _, k := range kernels {
			line := "accepted"
			if _, err := c.CheckNamespace(true, k); err != nil {
				line = userror.Line(err)
			}
			lines = append(lines, line)
		}
		differ := false
		for _, l := range lines[1:] {
			differ = differ || l != lines[0]
		}
		if differ && !c.KernelConfigMatters() {
			t.Errorf("%q: CheckNamespace depends on the kernel config (%q) but KernelConfigMatters is false", kcmd, lines)
		}
		if want := c.Kcmd.Appraise != "" && c.Kcmd.Appraise != "enforce"; c.KernelConfigMatters() != want {
			t.Errorf("%q: KernelConfigMatters = %v, want %v", kcmd, c.KernelConfigMatters(), want)
		}
		if c.KernelConfigMatters() && !differ {
			t.Errorf("%q: KernelConfigMatters but no kernel changed the answer (%q)", kcmd, lines)
		}
	}
}
