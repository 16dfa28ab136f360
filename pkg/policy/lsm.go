package policy

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// lsmRuleInit predicts whether ima_lsm_rule_init gets an LSM rule for
// key=value (ima_filter_rule_init → security_audit_rule_init). It returns
// defined=false with the reason when no LSM would define it, and a warning
// when the answer depends on LSM policy this profile cannot see.
func (p *Profile) lsmRuleInit(key, value string) (defined bool, why, warn string) {
	if !p.LSMRules {
		return false, "LSM label conditions need a kernel built with CONFIG_IMA_LSM_RULES", ""
	}
	lsm := p.labelLSM()
	switch lsm {
	case "":
		return false, fmt.Sprintf("no active LSM defines labels for %s= (active LSMs: %s; labels come from SELinux, Smack or AppArmor)",
			key, strings.Join(p.LSMs, ",")), ""
	case "selinux":
		// selinux_audit_rule_init looks the name up in the loaded policy.
		if p.LSMLabels == nil {
			return true, "", fmt.Sprintf("%s=%s: SELinux names are not checked here; the kernel refuses the rule if the loaded SELinux policy has no such %s",
				key, value, lsmKind(key))
		}
		if !contains(p.LSMLabels, value) {
			return false, fmt.Sprintf("SELinux policy has no %s %q", lsmKind(key), value), ""
		}
		return true, "", ""
	case "smack":
		// smack_audit_rule_init handles only the user fields and imports
		// (creates) any syntactically valid label.
		if key != "subj_user" && key != "obj_user" {
			return false, fmt.Sprintf("Smack defines only subj_user and obj_user labels, not %s", key), ""
		}
		if msg := smackLabel(value); msg != "" {
			return false, msg, ""
		}
		return true, "", ""
	case "apparmor":
		// aa_audit_rule_init handles only AUDIT_SUBJ_ROLE and resolves the
		// value as a profile name; the unconfined profile is found for any
		// non-empty prefix of "unconfined" (aa_lookupn_profile compares
		// strncmp(name, "unconfined", len(name))).
		if key != "subj_role" {
			return false, fmt.Sprintf("AppArmor defines only subj_role labels, not %s", key), ""
		}
		if strings.HasPrefix("unconfined", value) {
			return true, "", ""
		}
		if strings.Contains(value, "//&") || strings.HasPrefix(value, "&") || strings.HasPrefix(value, ":") {
			return false, "stacked or namespaced AppArmor labels are not modelled here; name one profile", ""
		}
		if p.LSMLabels == nil {
			return true, "", fmt.Sprintf("subj_role=%s: AppArmor profiles are not known here; the kernel refuses the rule if no profile %q is loaded", value, value)
		}
		if !contains(p.LSMLabels, value) {
			return false, fmt.Sprintf("no AppArmor profile %q is loaded", value), ""
		}
		return true, "", ""
	}
	return false, "unknown LSM " + lsm, ""
}

func lsmKind(key string) string {
	return key[strings.IndexByte(key, '_')+1:]
}

// smackLabel mirrors smk_parse_smack: 1..255 bytes of printable ASCII
// other than space, / " \ and ', not starting with '-'.
func smackLabel(v string) string {
	if v == "" || len(v) >= 256 {
		return "a Smack label has 1 to 255 characters"
	}
	if v[0] == '-' {
		return "a Smack label cannot start with '-'"
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c > '~' || c <= ' ' || c == '/' || c == '"' || c == '\\' || c == '\'' {
			return fmt.Sprintf("character %q is not allowed in a Smack label", c)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// maxLSMLabels bounds how many label names a profile reads.
const maxLSMLabels = 1 << 16

// SetAppArmorProfiles reads /sys/kernel/security/apparmor/profiles
// ("name (mode)" per line) into LSMLabels. An empty file means no profile
// is loaded: then only "unconfined" resolves.
func (p *Profile) SetAppArmorProfiles(r io.Reader) error {
	labels := []string{}
	sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if i := strings.LastIndex(line, " ("); i > 0 && strings.HasSuffix(line, ")") {
			line = line[:i]
		}
		labels = append(labels, line)
		if len(labels) > maxLSMLabels {
			return fmt.Errorf("apparmor profiles: more than %d", maxLSMLabels)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("apparmor profiles: %w", err)
	}
	p.LSMLabels = labels
	return nil
}
