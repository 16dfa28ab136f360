package config

import (
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// RuntimeDefaults are the runtime flags of the original IMA-namespace guide
// (its patched runc took --imans, --ima-x509 PATH and --ima-kcmd "...", set
// in daemon.json's runtimeArgs). ima-runtime accepts them in front of the
// runtime's own arguments as the administrator's defaults for every
// container that runs through that runtime entry (pkg/runtime
// SplitGuideFlags reads them), and the hooks it injects get them too, so
// the wrapper and the hook resolve the same configuration.
type RuntimeDefaults struct {
	Enable bool   // --imans: every container of this runtime entry gets a namespace
	X509   string // --ima-x509 PATH: defaults.x509
	Kcmd   string // --ima-kcmd "...": defaults.kcmd
}

// Flag names, as the guide spells them.
const (
	FlagIMANS = "--imans"
	FlagX509  = "--ima-x509"
	FlagKcmd  = "--ima-kcmd"
)

// IsZero reports that no guide flag was given.
func (d RuntimeDefaults) IsZero() bool { return d == RuntimeDefaults{} }

// Args renders d as hook arguments, one flag and one value per element.
func (d RuntimeDefaults) Args() []string {
	var a []string
	if d.Enable {
		a = append(a, FlagIMANS)
	}
	if d.X509 != "" {
		a = append(a, FlagX509, d.X509)
	}
	if d.Kcmd != "" {
		a = append(a, FlagKcmd, d.Kcmd)
	}
	return a
}

// ApplyRuntimeDefaults makes d the admin's defaults, above the admin file:
// --imans is mandatory = true for this runtime entry, --ima-x509 and
// --ima-kcmd replace defaults.x509 and defaults.kcmd. Annotations still
// override them where allow_annotation_override says so (Resolve), and they
// are checked like the admin file's own (the certificate must lie in
// keys_dir, the kcmd must parse); errors name the flag.
func (a *Admin) ApplyRuntimeDefaults(d RuntimeDefaults) error {
	if d.IsZero() {
		return nil
	}
	// Work on a copy: a flag that fails leaves the admin config as it was.
	b := *a
	b.subjects = map[string]string{}
	for k, v := range a.subjects {
		b.subjects[k] = v
	}
	if d.Enable {
		b.Mandatory = true
	}
	if d.X509 != "" {
		b.Defaults.X509 = d.X509
		b.subjects["defaults.x509"] = FlagX509 + " (runtime argument)"
	}
	if d.Kcmd != "" {
		if strings.TrimSpace(d.Kcmd) == "" {
			return userror.New(FlagKcmd+" (runtime argument)", "empty value", `give the kcmd, e.g. "--ima-kcmd ima_policy=tcb"`)
		}
		b.Defaults.Kcmd = d.Kcmd
		b.subjects["defaults.kcmd"] = FlagKcmd + " (runtime argument)"
	}
	if err := b.checkDefaultsText(); err != nil {
		return err
	}
	*a = b
	return nil
}
