package config

import (
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// CheckNamespace refuses what the hook could not honour for this config in
// a namespace that the ima-runtime wrapper created (createdByWrapper) or
// that it found made by someone else, on a kernel built with kernel (nil:
// unknown), and returns the warnings for what it will ignore instead. It
// is the one place for these config reasons: the hook plans with it, and
// the wrapper calls it (with true) before it creates anything, so that
// such a config is refused before any namespace exists.
func (c *Config) CheckNamespace(createdByWrapper bool, kernel *kconfig.Config) (warnings []string, err error) {
	if !createdByWrapper {
		// Only the task that unshared can set kcmd and x509, before the
		// first child (imans_write_kcmd_for_children): what kcmd would have
		// set at creation must now go through the policy file, and what only
		// creation can set is refused.
		var only []string
		if c.Kcmd.Appraise != "" {
			only = append(only, "ima_appraise="+c.Kcmd.Appraise)
		}
		if c.Kcmd.Template != "" {
			only = append(only, "ima_template="+c.Kcmd.Template)
		}
		for _, name := range c.Kcmd.Policies {
			if name == "fail_securely" {
				// A namespace switch, not rules (policy.ErrFlagOnly).
				only = append(only, "ima_policy=fail_securely")
			}
		}
		if len(only) > 0 {
			msg := strings.Join(only, " and ") + " can only be set when the namespace is created, and the ima-runtime wrapper did not create this one"
			if c.Required {
				return nil, userror.New(AnnKcmd, msg, "run the container through the ima-runtime wrapper (docs/runtime-wrapper.md)")
			}
			warnings = append(warnings, msg+"; ignored because io.imans.required=false")
		}
	}
	if createdByWrapper && c.KernelConfigMatters() &&
		kernel != nil && !kernel.Enabled("CONFIG_IMA_APPRAISE_BOOTPARAM") {
		// The kernel ignores it silently (ima_appraise_parse_cmdline): the
		// namespace would enforce.
		return nil, userror.New(AnnKcmd, "ima_appraise="+c.Kcmd.Appraise+" is ignored by this kernel, built without CONFIG_IMA_APPRAISE_BOOTPARAM ("+
			kernel.Source+"): the namespace appraises in enforce mode", "remove ima_appraise from the kcmd, or boot a kernel built with CONFIG_IMA_APPRAISE_BOOTPARAM=y")
	}
	if err := policy.CheckKcmd(c.Kcmd, c.Profile); err != nil {
		return nil, userror.Wrapf(err, AnnKcmd, "use a built-in policy the kernel knows", "")
	}
	if c.Policy != nil && createdByWrapper && c.Kcmd.SignedPolicyRequired(c.Profile) && c.PolicyPath == "" {
		// The namespace appraises POLICY_CHECK from birth: the kernel
		// refuses rule text, only a (signed) policy file is taken.
		return nil, userror.New(AnnPolicyRules, "the namespace appraises its own policy (POLICY_CHECK, from "+c.KcmdText+") and refuses inline rules",
			"give a signed policy file with io.imans.policy")
	}
	return warnings, nil
}

// KernelConfigMatters reports whether CheckNamespace(true, kernel) can
// depend on the kernel's build config: only an ima_appraise= other than
// enforce does (CONFIG_IMA_APPRAISE_BOOTPARAM). The wrapper reads the
// kernel config (a gunzip of /proc/config.gz) only then, which every other
// container start would pay for nothing.
func (c *Config) KernelConfigMatters() bool {
	a := c.Kcmd.Appraise
	return a != "" && a != "enforce"
}
