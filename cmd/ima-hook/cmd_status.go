package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

func init() {
	register(command{name: "status", summary: "show what this kernel offers for IMA namespaces and what the admin config says", run: runStatus})
}

type statusReport struct {
	Kernel  ns.Features `json:"kernel"`
	Ready   bool        `json:"ready"`
	Missing string      `json:"missing,omitempty"`
	// Limited is set when the kernel gives containers namespaces but
	// refuses every one with a policy (WritePolicyProblem): Ready is false
	// then, and Limited is the one line saying why and what still works.
	Limited string        `json:"limited,omitempty"`
	Config  *config.Admin `json:"config"`
	Source  string        `json:"config_source"`
	// ConfigError is the one line that every container asking for IMA
	// would be refused with because of the admin config ("" when valid).
	ConfigError string     `json:"config_error,omitempty"`
	HostNS      imansid.ID `json:"host_ns,omitempty"`
	HostNSEr    string     `json:"host_ns_error,omitempty"`
}

func runStatus(args []string) int {
	fs := pflag.NewFlagSet("status", pflag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON object instead of text")
	cfgPath := fs.String("config", "", "admin config `FILE` (default "+config.DefaultPath+")")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `Usage: ima-hook status [--json] [--config FILE]

Shows whether this kernel can give containers their own IMA namespace:
IMA present, securityfs mounted, the openEuler IMA-namespace ABI
(/proc/self/ns/ima and ima/kcmd_for_children), whether the policy file is
there and writable, the keyring appraisal keys go to, the host list's
template; and the admin config in force, validated as a whole: its
[defaults] are checked exactly as a container's io.imans.* annotations
are (key and policy files included), so a default that would refuse every
container shows here. Exit status 0 when the kernel and the admin config
are ready, 1 when the kernel is not, 2 when the admin config is not,
3 when the kernel is ready only for containers without a custom policy:
its configuration (CONFIG_IMA_WRITE_POLICY off) lets it load no policy into
each namespace, so status says "ready: limited: ..." (JSON: "ready": false
and the line as "limited") and the hook refuses every container that asks
for a policy of its own.

Flags:
`)
		fs.PrintDefaults()
	}
	if status, done := parseFlags(fs, args); done {
		return status
	}
	// The admin config is validated as a whole, [defaults] the way a
	// container's annotations are (config.Admin.CheckDefaults): a default
	// that would refuse every container makes the machine not ready.
	a, err := config.LoadAdmin(*cfgPath)
	if err == nil {
		err = a.CheckDefaults()
	}
	k := ns.Default()
	r := statusReport{Kernel: k.Probe(), Config: a}
	switch {
	case a == nil && *cfgPath != "":
		r.Source = *cfgPath
	case a == nil:
		r.Source = config.DefaultPath
	case a.Source == "":
		r.Source = "built-in defaults (no " + config.DefaultPath + ")"
	default:
		r.Source = a.Source
	}
	r.Missing = r.Kernel.Missing()
	if err != nil {
		r.ConfigError = userror.Line(err)
		if r.Missing == "" {
			r.Missing = r.ConfigError
		}
	}
	if r.Missing == "" {
		// A kernel that can load no policy per namespace (known from its
		// config) makes the hook refuse every container with a policy:
		// not "ready", whatever else holds.
		if why := r.Kernel.WritePolicyProblem(); why != "" {
			r.Limited = limitedLine(why)
		}
	}
	r.Ready = r.Missing == "" && r.Limited == ""
	if r.Kernel.Namespaces {
		if id, err := k.NamespaceOf(1); err == nil {
			r.HostNS = id
		} else {
			r.HostNSEr = err.Error()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		printStatus(r)
	}
	switch {
	case r.ConfigError != "":
		return 2
	case r.Limited != "":
		return 3
	case !r.Ready:
		return 1
	}
	return 0
}

// limitedLine is status's one line for a kernel that can give containers
// namespaces but no policy of their own (why: ns.Features.WritePolicyProblem).
func limitedLine(why string) string {
	return userror.Line(userror.New("kernel", why+
		"; every container with a custom policy (io.imans.policy, io.imans.policy-rules) is refused, the others start",
		"boot a kernel built with CONFIG_IMA_WRITE_POLICY=y"))
}

func printStatus(r statusReport) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	f := r.Kernel
	fmt.Printf("kernel seam:            %s\n", f.Kernel)
	fmt.Printf("securityfs mounted:     %s\n", yes(f.SecurityFSMounted))
	fmt.Printf("IMA (%s): %s\n", f.SecurityFSDir, yes(f.IMA))
	fmt.Printf("IMA namespaces:         %s (/proc/self/ns/ima)\n", yes(f.Namespaces))
	fmt.Printf("openEuler ABI:          kcmd_for_children %s, x509_for_children %s\n", yes(f.KcmdForChildren), yes(f.X509ForChildren))
	fmt.Printf("policy file:            present %s, writable %s\n", yes(f.PolicyFile), yes(f.PolicyWritable))
	if f.ImaKeyring != "" {
		fmt.Printf("appraisal keyring:      %s\n", f.ImaKeyring)
	}
	if f.Template != "" {
		fmt.Printf("host list template:     %s\n", f.Template)
	}
	if r.HostNS != 0 {
		fmt.Printf("host IMA namespace:     %d\n", r.HostNS)
	}
	printKernelConfig(f)
	switch {
	case r.Ready:
		fmt.Println("ready:                  yes")
	case r.Limited != "":
		fmt.Printf("ready:                  limited: %s\n", r.Limited)
	default:
		fmt.Printf("ready:                  no: %s\n", r.Missing)
	}
	a := r.Config
	fmt.Printf("admin config:           %s\n", userror.OneLine(r.Source))
	if r.ConfigError != "" {
		fmt.Printf("admin config error:     %s\n", r.ConfigError)
	}
	if a == nil {
		return
	}
	fmt.Printf("  mandatory=%v allow_annotation_override=%v\n", a.Mandatory, a.AllowAnnotationOverride)
	fmt.Printf("  defaults: required=%v kcmd=%q x509=%q policy=%q inline rules=%d bytes\n",
		a.Defaults.Required, a.Defaults.Kcmd, a.Defaults.X509, a.Defaults.Policy, len(a.Defaults.PolicyRules))
	fmt.Printf("  keys_dir=%s policies_dir=%s run_dir=%s archive_dir=%s\n", a.KeysDir, a.PoliciesDir, a.RunDir, a.ArchiveDir)
	fmt.Printf("  kernel: allow_template=%v keyring=%s\n", a.Kernel.AllowTemplate, a.Kernel.Keyring)
}

// printKernelConfig shows the build options that decide what the kernel
// does with a namespace's key and policy (docs/kernel-abi.md), when the
// kernel config is readable.
func printKernelConfig(f ns.Features) {
	c := f.KernelConfig
	if c == nil {
		fmt.Printf("kernel config:          not readable (%s)\n", f.KernelConfigError)
		return
	}
	fmt.Printf("kernel config:          %s\n", c.Source)
	for _, o := range kconfig.Options {
		fmt.Printf("  %s=%s\n", o, c.Options[o])
	}
	if why := f.WritePolicyProblem(); why != "" {
		fmt.Printf("  warning: %s\n", why)
	}
}
