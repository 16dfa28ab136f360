package policy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// maxConfigBytes bounds a kernel config (a distribution config is ~300 KB).
const maxConfigBytes = 8 << 20

// Kconfig is a parsed kernel .config: option values by name (without the
// CONFIG_ prefix), "n" for "# CONFIG_X is not set".
type Kconfig struct {
	Version KernelVersion
	Values  map[string]string
}

// versionHeader is compiled on first use, not at package init: every
// start of the binary (the runtime wrapper's pass-through included) would
// pay for it (issue 14.6).
var versionHeader = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^# Linux/\S+ (\d+\.\d+[^ ]*) Kernel Configuration`)
})

// ParseKconfig reads a kernel config file.
func ParseKconfig(r io.Reader) (*Kconfig, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("kernel config: larger than %d bytes", maxConfigBytes)
	}
	kc := &Kconfig{Values: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := versionHeader().FindStringSubmatch(line); m != nil && kc.Version.Major == 0 {
			if v, err := ParseKernelVersion(m[1]); err == nil {
				kc.Version = v
			}
			continue
		}
		if strings.HasPrefix(line, "# CONFIG_") && strings.HasSuffix(line, " is not set") {
			kc.Values[strings.TrimSuffix(strings.TrimPrefix(line, "# CONFIG_"), " is not set")] = "n"
			continue
		}
		if !strings.HasPrefix(line, "CONFIG_") {
			continue
		}
		name, val, ok := strings.Cut(strings.TrimPrefix(line, "CONFIG_"), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(val); err == nil {
			val = uq
		}
		kc.Values[name] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	if len(kc.Values) == 0 {
		return nil, errors.New("kernel config: no CONFIG_ lines; is this a kernel .config?")
	}
	return kc, nil
}

func (kc *Kconfig) y(name string) bool { return kc.Values[name] == "y" }

// tristate returns "y", "m" or "" for an option.
func (kc *Kconfig) tristate(name string) string {
	switch v := kc.Values[name]; v {
	case "y", "m":
		return v
	}
	return ""
}

// hashProviders maps each hash_algo_name entry to the crypto options that
// register an algorithm of that cra_name (generic and x86 drivers).
var hashProviders = map[string][]string{
	"md4":         {"CRYPTO_MD4"},
	"md5":         {"CRYPTO_MD5"},
	"sha1":        {"CRYPTO_SHA1", "CRYPTO_SHA1_SSSE3"},
	"rmd160":      {"CRYPTO_RMD160"},
	"sha256":      {"CRYPTO_SHA256", "CRYPTO_SHA256_SSSE3"},
	"sha224":      {"CRYPTO_SHA256", "CRYPTO_SHA256_SSSE3"},
	"sha384":      {"CRYPTO_SHA512", "CRYPTO_SHA512_SSSE3"},
	"sha512":      {"CRYPTO_SHA512", "CRYPTO_SHA512_SSSE3"},
	"rmd128":      {"CRYPTO_RMD128"},
	"rmd256":      {"CRYPTO_RMD256"},
	"rmd320":      {"CRYPTO_RMD320"},
	"wp256":       {"CRYPTO_WP512"},
	"wp384":       {"CRYPTO_WP512"},
	"wp512":       {"CRYPTO_WP512"},
	"tgr128":      {"CRYPTO_TGR192"},
	"tgr160":      {"CRYPTO_TGR192"},
	"tgr192":      {"CRYPTO_TGR192"},
	"sm3":         {"CRYPTO_SM3_GENERIC", "CRYPTO_SM3", "CRYPTO_SM3_AVX_X86_64"},
	"streebog256": {"CRYPTO_STREEBOG"},
	"streebog512": {"CRYPTO_STREEBOG"},
}

// ProfileFromConfig builds the profile of the kernel built with kconfig,
// with the active LSMs lsms (the comma-separated content of
// /sys/kernel/security/lsm; "" derives them from CONFIG_LSM: the listed,
// built-in LSMs with only the first of the exclusive SELinux, Smack,
// TOMOYO and AppArmor). Namespace mode is on when the kernel has
// CONFIG_IMA_NS. Labels of the active LSM are not known (see
// Profile.LSMLabels).
func ProfileFromConfig(kconfig io.Reader, lsms string) (Profile, error) {
	kc, err := ParseKconfig(kconfig)
	if err != nil {
		return Profile{}, err
	}
	return profileFromKconfig(kc, lsms)
}

func profileFromKconfig(kc *Kconfig, lsms string) (Profile, error) {
	if !kc.y("IMA") {
		return Profile{}, errors.New("kernel config: CONFIG_IMA is not set; this kernel has no IMA policy at all")
	}
	v := kc.Version
	f := FeaturesFor(v)
	f.IMANSTemplate = kc.y("IMA_NS")
	f.DigestLists = kc.y("IMA_DIGEST_LIST")
	p := Profile{
		Version:            v,
		Features:           f,
		IMA:                true,
		Appraise:           kc.y("IMA_APPRAISE"),
		AppraiseBootParam:  kc.y("IMA_APPRAISE_BOOTPARAM"),
		Modsig:             kc.y("IMA_APPRAISE_MODSIG"),
		AsymmetricKeys:     kc.y("IMA_MEASURE_ASYMMETRIC_KEYS"),
		LSMRules:           kc.y("IMA_LSM_RULES"),
		WritePolicy:        kc.y("IMA_WRITE_POLICY"),
		ReadPolicy:         kc.y("IMA_READ_POLICY"),
		AppraiseSignedInit: kc.y("IMA_APPRAISE_SIGNED_INIT"),
		ArchPolicy:         kc.y("IMA_ARCH_POLICY"),
		KexecSig:           kc.y("KEXEC_SIG"),
		ModuleSig:          kc.y("MODULE_SIG"),
		HashAlgos:          map[string]bool{},
		ModulesLoadable:    true,
		DefaultTemplate:    kc.Values["IMA_DEFAULT_TEMPLATE"],
		PCRs:               32,
		DigestListPCR:      11,
		Namespace:          Namespace{Enabled: kc.y("IMA_NS")},
		Limits:             DefaultLimits,
	}
	if kc.y("64BIT") {
		p.PCRs = 64
	}
	if p.DefaultTemplate == "" {
		p.DefaultTemplate = "ima-ng"
	}
	if n, err := strconv.Atoi(kc.Values["IMA_DIGEST_LIST_PCR"]); err == nil && n >= 0 {
		p.DigestListPCR = n
	}
	for _, fn := range []struct{ opt, fn string }{
		{"IMA_APPRAISE_REQUIRE_MODULE_SIGS", "MODULE_CHECK"},
		{"IMA_APPRAISE_REQUIRE_FIRMWARE_SIGS", "FIRMWARE_CHECK"},
		{"IMA_APPRAISE_REQUIRE_KEXEC_SIGS", "KEXEC_KERNEL_CHECK"},
		{"IMA_APPRAISE_REQUIRE_POLICY_SIGS", "POLICY_CHECK"},
	} {
		if kc.y(fn.opt) {
			p.BuildAppraise = append(p.BuildAppraise, fn.fn)
		}
	}
	for algo, opts := range hashProviders {
		for _, o := range opts {
			switch kc.tristate(o) {
			case "y":
				p.HashAlgos[algo] = true
			case "m":
				if _, ok := p.HashAlgos[algo]; !ok {
					p.HashAlgos[algo] = false
				}
			}
		}
	}
	p.Templates = builtinTemplates(f)
	if lsms = strings.TrimSpace(lsms); lsms != "" {
		for _, l := range strings.Split(lsms, ",") {
			if l = strings.TrimSpace(l); l != "" {
				p.LSMs = append(p.LSMs, l)
			}
		}
	} else {
		p.LSMs = lsmsFromConfig(kc)
	}
	return p, nil
}

// lsmsFromConfig derives the LSMs a kernel activates without lsm= or
// security= on its command line.
func lsmsFromConfig(kc *Kconfig) []string {
	opt := map[string]string{"selinux": "SECURITY_SELINUX", "smack": "SECURITY_SMACK", "tomoyo": "SECURITY_TOMOYO",
		"apparmor": "SECURITY_APPARMOR", "yama": "SECURITY_YAMA", "loadpin": "SECURITY_LOADPIN",
		"safesetid": "SECURITY_SAFESETID", "lockdown": "SECURITY_LOCKDOWN_LSM", "landlock": "SECURITY_LANDLOCK",
		"integrity": "INTEGRITY", "bpf": "BPF_LSM"}
	exclusive := map[string]bool{"selinux": true, "smack": true, "tomoyo": true, "apparmor": true}
	out := []string{"capability"}
	haveExclusive := false
	for _, l := range strings.Split(kc.Values["LSM"], ",") {
		l = strings.TrimSpace(l)
		o, ok := opt[l]
		if !ok || !kc.y(o) {
			continue
		}
		if exclusive[l] {
			if haveExclusive {
				continue
			}
			haveExclusive = true
		}
		out = append(out, l)
	}
	return out
}

// System paths ProfileFromSystem reads; variables so tests can point them
// into a fake root.
var (
	procConfigGz    = "/proc/config.gz"
	bootConfigDir   = "/boot"
	lsmFile         = "/sys/kernel/security/lsm"
	apparmorFile    = "/sys/kernel/security/apparmor/profiles"
	cmdlineFile     = "/proc/cmdline"
	policyFile      = "/sys/kernel/security/ima/policy"
	secureBootFile  = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0e71c9d4"
	setupModeFile   = "/sys/firmware/efi/efivars/SetupMode-8be4df61-93ca-11d2-aa0d-e98c0e71c9d4"
	unameRelease    = kernelRelease
	maxSmallSysFile = int64(1 << 20)
)

// ProfileFromSystem builds the profile of the running kernel: its config
// from /proc/config.gz or /boot/config-$(uname -r), the active LSMs from
// /sys/kernel/security/lsm, loaded AppArmor profiles, EFI secure boot,
// and from /proc/cmdline the boot policy (ima_policy=, whether it requires
// signed policy updates) and a custom ima_template_fmt=.
func ProfileFromSystem() (Profile, error) {
	kc, src, err := systemKconfig()
	if err != nil {
		return Profile{}, err
	}
	lsms, _ := readSmall(lsmFile)
	p, err := profileFromKconfig(kc, string(lsms))
	if err != nil {
		return Profile{}, fmt.Errorf("%s: %w", src, err)
	}
	if p.Version.Major == 0 {
		if rel, err := unameRelease(); err == nil {
			if v, err := ParseKernelVersion(rel); err == nil {
				p.Version = v
				nsT, dl := p.Features.IMANSTemplate, p.Features.DigestLists
				p.Features = FeaturesFor(v)
				p.Features.IMANSTemplate, p.Features.DigestLists = nsT, dl
				p.Templates = builtinTemplates(p.Features)
			}
		}
	}
	if p.labelLSM() == "apparmor" {
		if f, err := os.Open(apparmorFile); err == nil {
			_ = p.SetAppArmorProfiles(f)
			f.Close()
		}
	}
	p.SecureBoot = efiSecureBoot()
	if cl, err := readSmall(cmdlineFile); err == nil {
		p.applyCmdline(string(cl))
	}
	if !p.Namespace.Enabled {
		// Without CONFIG_IMA_WRITE_POLICY and CONFIG_IMA_READ_POLICY the
		// policy file disappears after the first successful load.
		if _, err := os.Stat(policyFile); errors.Is(err, os.ErrNotExist) {
			p.CustomPolicyLoaded = true
		}
	}
	return p, nil
}

func systemKconfig() (*Kconfig, string, error) {
	if f, err := os.Open(procConfigGz); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err == nil {
			kc, err := ParseKconfig(zr)
			if err == nil {
				return kc, procConfigGz, nil
			}
		}
	}
	rel, err := unameRelease()
	if err != nil {
		return nil, "", fmt.Errorf("kernel config: uname: %w", err)
	}
	path := bootConfigDir + "/config-" + rel
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("kernel config: neither %s nor %s is readable; pass the kernel's config file (--kernel-config)", procConfigGz, path)
	}
	defer f.Close()
	kc, err := ParseKconfig(f)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return kc, path, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSmallSysFile))
}

// PlatformSecureBoot reports whether this machine booted with EFI secure
// boot (not in setup mode): then a kernel with CONFIG_IMA_ARCH_POLICY
// gives every IMA namespace the architecture rules (ArchRules).
func PlatformSecureBoot() bool { return efiSecureBoot() }

// efiSecureBoot mirrors efi_get_secureboot_mode roughly: SecureBoot=1 and
// not in setup mode. An efivars file is 4 attribute bytes and the value.
func efiSecureBoot() bool {
	sb, err := readSmall(secureBootFile)
	if err != nil || len(sb) < 5 || sb[4] != 1 {
		return false
	}
	if sm, err := readSmall(setupModeFile); err == nil && len(sm) >= 5 && sm[4] == 1 {
		return false
	}
	return true
}

// applyCmdline takes what the boot command line changes in the policy
// language: a custom template format (ima_template_fmt=) and, for the
// initial namespace, whether the boot policy requires signed policy
// updates.
func (p *Profile) applyCmdline(cl string) {
	var policies []string
	for _, arg := range strings.Fields(cl) {
		name, val, _ := strings.Cut(arg, "=")
		switch name {
		case "ima_template_fmt":
			if val != "" && p.lookupTemplate(val) == nil {
				p.Templates = append(p.Templates, Template{Fmt: val})
				p.DefaultTemplate = val
			}
		case "ima_template":
			if t := p.lookupTemplate(val); t != nil && t.Name != "" {
				p.DefaultTemplate = t.Name
			}
		case "ima_policy":
			policies = append(policies, strings.FieldsFunc(val, func(r rune) bool { return r == '|' })...)
		case "ima_appraise_tcb":
			policies = append(policies, "appraise_tcb")
		}
	}
	if !p.Namespace.Enabled {
		p.SignedPolicyRequired = signedPolicyRequired(policies, p) || contains(p.BuildAppraise, "POLICY_CHECK")
	}
}

// signedPolicyRequired: the built-ins set IMA_APPRAISE_POLICY when they
// contain an appraise rule for POLICY_CHECK (add_rules → ima_appraise_flag).
func signedPolicyRequired(policies []string, p *Profile) bool {
	for _, name := range policies {
		switch name {
		case "secure_boot":
			return true
		case "appraise_tcb":
			if p.WritePolicy {
				return true
			}
		case "appraise_exec_tcb":
			if p.Features.DigestLists {
				return true
			}
		}
	}
	return false
}
