// Package config turns a container's io.imans.* annotations and the
// administrator's TOML file into one validated IMA configuration, or one
// error line that names the annotation or file at fault.
//
// Precedence (docs/configuration.md): an annotation wins over the admin's
// [defaults] only while allow_annotation_override is true; the admin's
// mandatory = true turns IMA on for every container whatever its
// annotations say. Nothing is applied until all of it validated.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/ima-hook/ima-hook/internal/sysfile"
	"github.com/ima-hook/ima-hook/internal/userror"
)

// DefaultPath is the admin config file.
const DefaultPath = "/etc/ima-hook/ima-hook.toml"

const maxAdminSize = 1 << 20

// Admin is the administrator's configuration.
type Admin struct {
	Mandatory               bool   `toml:"mandatory"`
	AllowAnnotationOverride bool   `toml:"allow_annotation_override"`
	KeysDir                 string `toml:"keys_dir"`
	PoliciesDir             string `toml:"policies_dir"`
	RunDir                  string `toml:"run_dir"`
	ArchiveDir              string `toml:"archive_dir"`
	Runtime                 string `toml:"runtime"`
	Log                     string `toml:"log"`
	// PreflightTimeout bounds the appraisal preflight at createRuntime
	// (a Go duration such as "10s"); keep it below the hook's timeout.
	PreflightTimeout string   `toml:"preflight_timeout"`
	Defaults         Defaults `toml:"defaults"`
	Kernel           Kernel   `toml:"kernel"`

	// AllowAbsolutePaths lets io.imans.policy and io.imans.x509 name a
	// file by its absolute path (inside policies_dir / keys_dir); false
	// takes names only (a file of that name in the directory), so that pod
	// specs never carry a node's file layout.
	AllowAbsolutePaths bool `toml:"allow_absolute_paths"`

	// Source is the file this came from, or "" for built-in defaults.
	Source string `toml:"-"`
	// SourceSize and SourceFNV identify the bytes Source was parsed from
	// (their FNV-1a 64 hash): the wrapper's pass-through card names them,
	// so that the C pre-filter trusts what the card says of this config
	// only while the file holds exactly these bytes (pkg/ns/nsenter,
	// passcard.go).
	SourceSize int64  `toml:"-"`
	SourceFNV  uint64 `toml:"-"`
	// subjects names settings that came from elsewhere than Source (the
	// runtime flags of ApplyRuntimeDefaults), for messages.
	subjects map[string]string
}

// Defaults are the per-container settings used when no annotation says
// otherwise; same meaning as the annotations.
type Defaults struct {
	Required    bool   `toml:"required"`
	Kcmd        string `toml:"kcmd"`
	X509        string `toml:"x509"`
	Policy      string `toml:"policy"`
	PolicyRules string `toml:"policy_rules"`
	// Preflight is off, warn or enforce (see io.imans.preflight).
	Preflight string `toml:"preflight"`
	// Scope is container or pod (see io.imans.scope).
	Scope string `toml:"scope"`
}

// Kernel holds switches for what the kernel accepts.
type Kernel struct {
	// AllowTemplate accepts ima_template= in kcmd; only kernels with the
	// RFC's 30/30 patch take it (docs/kernel-abi.md#kcmd_for_children, [U]).
	AllowTemplate bool `toml:"allow_template"`
	// Keyring is auto, .ima or _ima (see pkg/keys).
	Keyring string `toml:"keyring"`
	// Config and LSM describe the target kernel for the policy validator:
	// a kernel config file (or "auto" for this machine's) and an LSM list.
	// Empty: a typical openEuler CONFIG_IMA_NS kernel.
	Config string `toml:"config"`
	LSM    string `toml:"lsm"`
}

// PreflightBudget is the preflight's time budget.
func (a *Admin) PreflightBudget() time.Duration {
	d, err := time.ParseDuration(a.PreflightTimeout)
	if err != nil || d <= 0 {
		return 10 * time.Second
	}
	return d
}

// BuiltinAdmin is the configuration without any file.
func BuiltinAdmin() *Admin {
	return &Admin{
		AllowAnnotationOverride: true,
		AllowAbsolutePaths:      true,
		KeysDir:                 "/etc/ima-hook/keys",
		PoliciesDir:             "/etc/ima-hook/policies",
		RunDir:                  "/run/ima-hook",
		ArchiveDir:              "/var/lib/ima-hook",
		Runtime:                 "runc",
		Log:                     "auto",
		PreflightTimeout:        "10s",
		Defaults:                Defaults{Required: true, Kcmd: "ima_policy=tcb", Preflight: "off", Scope: ScopeContainer},
		Kernel:                  Kernel{Keyring: "auto"},
	}
}

// LoadAdmin reads the admin config at path ("" = DefaultPath). A missing
// default file means the built-in defaults; a missing explicit file is an
// error, since the admin asked for it.
func LoadAdmin(path string) (*Admin, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	a := BuiltinAdmin()
	// sysfile: every wrapper start reads this file.
	f, err := sysfile.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return a, nil
		}
		return nil, userror.Wrap(err, path, "cannot read the admin config: "+errText(err), "create it (see docs/configuration.md) or pass --config")
	}
	defer f.Close()
	b, err := f.ReadAtMost(maxAdminSize)
	if err != nil {
		return nil, userror.Wrapf(err, path, "check the file", "cannot read the admin config")
	}
	if len(b) > maxAdminSize {
		return nil, userror.New(path, fmt.Sprintf("admin config is larger than %d bytes", maxAdminSize), "shorten it")
	}
	if unknown, err := decodeAdmin(b, a); err != nil {
		return nil, userror.Wrap(err, path, "not valid TOML: "+oneLine(err.Error()), "fix the syntax (see docs/configuration.md)")
	} else if len(unknown) > 0 {
		return nil, userror.New(path, "unknown setting "+strings.Join(unknown, ", "), "remove it or fix its spelling (see docs/configuration.md)")
	}
	a.Source = path
	a.SourceSize = int64(len(b))
	h := fnv.New64a()
	h.Write(b)
	a.SourceFNV = h.Sum64()
	if err := a.check(); err != nil {
		return nil, err
	}
	if err := a.checkDefaultsText(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Admin) check() error {
	for name, dir := range map[string]string{"keys_dir": a.KeysDir, "policies_dir": a.PoliciesDir, "run_dir": a.RunDir, "archive_dir": a.ArchiveDir} {
		if !strings.HasPrefix(dir, "/") {
			return userror.New(a.where(name), fmt.Sprintf("%q is not an absolute path", dir), "use an absolute directory")
		}
	}
	switch a.Kernel.Keyring {
	case "auto", ".ima", "_ima":
	default:
		return userror.New(a.where("kernel.keyring"), fmt.Sprintf("unknown keyring %q", a.Kernel.Keyring), `use "auto", ".ima" or "_ima"`)
	}
	if d, err := time.ParseDuration(a.PreflightTimeout); err != nil || d <= 0 {
		return userror.New(a.where("preflight_timeout"), fmt.Sprintf("%q is not a positive duration", a.PreflightTimeout), `use a duration such as "10s"`)
	}
	switch a.Defaults.Preflight {
	case "off", "warn", "enforce":
	default:
		return userror.New(a.where("defaults.preflight"), fmt.Sprintf("unknown preflight mode %q", a.Defaults.Preflight), `use "off", "warn" or "enforce"`)
	}
	switch a.Log {
	case "auto", "journald", "syslog", "stderr":
	default:
		return userror.New(a.where("log"), fmt.Sprintf("unknown log target %q", a.Log), `use "auto", "journald", "syslog" or "stderr"`)
	}
	return nil
}

// where names a setting of the admin file for error messages.
func (a *Admin) where(setting string) string {
	if s, ok := a.subjects[setting]; ok {
		return s
	}
	src := a.Source
	if src == "" {
		src = "built-in defaults"
	}
	return src + " " + setting
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// decodeAdmin decodes the admin file text b over a and returns the settings
// it does not know (sorted, dotted: "defaults.kcmdd"). go-toml (also what
// configure reads engine files with) rather than BurntSushi/toml: every
// container start runs this, and BurntSushi's package init alone (it reads
// the local time zone) cost more than the whole decode here (issue 14.6).
// TestAdminDecodeMatchesBurntSushi holds the two to the same answers.
// The common shape of the file takes decodeAdminPlain (admin_plain.go),
// without go-toml's reflection; everything else comes here.
func decodeAdmin(b []byte, a *Admin) (unknown []string, err error) {
	if decodeAdminPlain(b, a) {
		return nil, nil
	}
	return decodeAdminReflect(b, a)
}

// decodeAdminReflect is decodeAdmin by go-toml's decoder: any file, and
// the exact words for whatever is wrong with it.
func decodeAdminReflect(b []byte, a *Admin) (unknown []string, err error) {
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(a)
	var strict *toml.StrictMissingError
	if !errors.As(err, &strict) {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range strict.Errors {
		k := strings.Join(e.Key(), ".")
		if !seen[k] {
			seen[k] = true
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown, nil
}
