// Package hook is what ima-hook does at each OCI hook stage: at
// createRuntime it validates the container's IMA config, checks that the
// container got a fresh IMA namespace, populates it (policy, key) from
// inside before the first container process execs, verifies it and records
// the result; at poststop it archives the namespace's final measurement view.
//
// The data flows one way: state + annotations + admin config -> config.Config
// -> PopulatePlan -> ns.Kernel -> record. The plan is plain data so that
// tests can inspect what would be written without a kernel.
package hook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/internal/logx"
	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/oci"
	"github.com/ima-hook/ima-hook/pkg/policy"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// Hook holds what the stages need.
type Hook struct {
	Kernel ns.Kernel
	Admin  *config.Admin
	Store  record.Store
	Log    *logx.Logger
	Now    func() time.Time
}

// New builds a Hook from the admin config.
func New(k ns.Kernel, a *config.Admin, log *logx.Logger) *Hook {
	return &Hook{Kernel: k, Admin: a, Store: record.Store{RunDir: a.RunDir, ArchiveDir: a.ArchiveDir}, Log: log, Now: time.Now}
}

// PopulatePlan is what createRuntime will do in the container's namespace.
type PopulatePlan struct {
	NS imansid.ID `json:"ns"`
	// CreatedByWrapper: the ima-runtime wrapper created the namespace, so
	// kcmd and x509 were applied at creation.
	CreatedByWrapper bool `json:"created_by_wrapper"`
	// Rules are written one per write(): the custom rules alone (the
	// kernel's first load replaces the kcmd's built-ins, and so does the
	// hook: policy.HookRules), or, into a namespace the wrapper did not
	// create and without custom rules, the kcmd's built-ins.
	Rules      []string `json:"rules"`
	PolicyPath string   `json:"policy_path,omitempty"`
	AddKey     bool     `json:"add_key"`
	// InForce are the rules in force once the plan is carried out, in the
	// kernel's order: what the kernel itself makes of the kcmd and the
	// custom policy (policy.Effective). The preflight judges these, the
	// record carries their sha256.
	InForce []string `json:"in_force"`
	// BuiltinsReplaced: the custom policy took the kcmd's built-in rules
	// out of force (architecture rules stay).
	BuiltinsReplaced bool     `json:"builtins_replaced,omitempty"`
	Warnings         []string `json:"warnings,omitempty"`

	inForce []policy.Rule
}

// CreateRuntime runs at the createRuntime stage; st.Pid is the container
// init's pid in the runtime's (host) pid namespace. A nil error lets the
// container start.
func (h *Hook) CreateRuntime(st *specs.State) error {
	ann, err := oci.Annotations(st)
	if err != nil {
		return userror.Wrapf(err, st.Bundle+"/config.json", "check the bundle", "")
	}
	who := kube.FromAnnotations(ann)
	h.Log.Identify(st.ID, who.String())
	warnings := config.LookalikeKeys(ann)
	for _, w := range warnings {
		h.Log.Error(st.ID, "warning: %s", w)
	}
	cfg, err := config.Resolve(ann, h.Admin)
	if err != nil {
		h.Log.Error(st.ID, "refused: %v", err)
		return err
	}
	if cfg == nil {
		if err := h.unaskedWrapperNamespace(st, "does not ask for IMA"); err != nil {
			h.Log.Error(st.ID, "refused: %v", err)
			return err
		}
		h.Log.Info(st.ID, "IMA not requested; nothing to do")
		return nil
	}
	// The id names the container's files only from here on (oci.ReadState
	// takes any id for a container that does not ask for IMA).
	if err := record.ValidID(st.ID); err != nil {
		return userror.Wrapf(err, "container id", "give the container an id of letters, digits, '_', '.' and '-'", "")
	}
	if cfg.Sandbox {
		// CRI-O runs hooks.d hooks for the sandbox too (its annotations
		// are the pod's): it gets no namespace of its own.
		if err := h.unaskedWrapperNamespace(st, "is a pod's sandbox, which gets no IMA namespace of its own"); err != nil {
			h.Log.Error(st.ID, "refused: %v", err)
			return err
		}
		h.Log.Info(st.ID, "pod sandbox container: no IMA namespace of its own; nothing to do")
		return nil
	}
	now := h.Now().UTC()
	rec := record.Record{ContainerID: st.ID, Life: record.NewLife(now), Names: record.EngineNames(ann), Bundle: st.Bundle,
		Required: cfg.Required, Kcmd: cfg.KcmdText, PolicySHA: cfg.PolicySHA256, KeyPath: cfg.X509Path, Time: now, AggregateIndex: -1}
	rec.Warnings = warnings
	rec.Kubernetes = who
	if cfg.Cert != nil {
		rec.KeyID = fmt.Sprintf("%08x", cfg.Cert.KeyID)
		h.Log.Info(st.ID, "appraisal key %s has IMA key id %s", cfg.X509Path, rec.KeyID)
		// Accepted, but the admin must hear of it (RSA-1024, expired or
		// not yet valid: the kernel checks no dates).
		for _, w := range cfg.Cert.Warnings {
			w = cfg.Sources[config.AnnX509] + ": " + cfg.X509Path + ": " + w
			h.Log.Error(st.ID, "warning: %s", w)
			rec.Warnings = append(rec.Warnings, w)
		}
	}
	if cfg.Policy != nil {
		rec.PolicyRules = len(cfg.Policy.Rules)
	}
	err = h.apply(st, cfg, &rec)
	if err != nil {
		var skip *skipped
		if errors.As(err, &skip) {
			rec.Result = "skipped: " + skip.why
			h.Log.Info(st.ID, "IMA optional and unavailable, container starts without it: %s", skip.why)
			if err := h.Store.WriteLive(rec); err != nil {
				return h.recordError(st.ID, err)
			}
			return nil
		}
		rec.Result = "failed: " + err.Error()
		h.Log.Error(st.ID, "refused: %v", err)
		_ = h.Store.WriteLive(rec) // for poststop and users; the error is what matters
		return err
	}
	rec.Result = "applied"
	if err := h.Store.WriteLive(rec); err != nil {
		return h.recordError(st.ID, err)
	}
	if rec.PodNamespaceOf != "" {
		h.Log.Info(st.ID, "joined the pod's IMA namespace %d, created by container %s: its %d rules and key %q are in force",
			rec.NS, rec.PodNamespaceOf, rec.PolicyRules, rec.KeyID)
		return nil
	}
	h.Log.Info(st.ID, "IMA namespace %d populated: %d rules, key %q, %d measurements, %d violations",
		rec.NS, rec.PolicyRules, rec.KeyID, rec.Measurement, rec.Violations)
	return nil
}

// unaskedWrapperNamespace refuses a container that, by the hook's
// configuration, gets no IMA namespace (why), but that the wrapper started
// in one it created or joined for it: the two read different settings (the
// hook runs without the runtime entry's --imans/--ima-x509/--ima-kcmd, or
// with another admin config), and the namespace would run with none of
// the admin's policy or key checks and no record. A note of an earlier
// container with this id is told apart by the namespace the container is
// in.
func (h *Hook) unaskedWrapperNamespace(st *specs.State, why string) error {
	if record.ValidID(st.ID) != nil || st.Pid <= 0 {
		return nil
	}
	created, hasCreated, _ := h.Store.ReadNSIDNote(st.ID)
	_, joined := h.Store.ReadJoinedNote(st.ID)
	if !hasCreated && !joined {
		return nil
	}
	ctrNS, err := h.Kernel.NamespaceOf(st.Pid)
	if err != nil {
		return nil // no IMA on this kernel, or the init is gone: nothing to configure
	}
	hostNS, err := h.Kernel.NamespaceOf(1)
	if err != nil || ctrNS == hostNS || (hasCreated && created != ctrNS) {
		return nil // a note of an earlier container with this id
	}
	return userror.New("ima-hook hook", fmt.Sprintf("the runtime wrapper started this container in IMA namespace %d, but by the hook's configuration it %s: the wrapper and the hook read different settings", ctrNS, why),
		"give the hook the same admin config (--config) and the runtime entry's --imans/--ima-x509/--ima-kcmd as the wrapper (the wrapper adds its own hook with them when no other ima-hook hook is configured)")
}

// recordError: the live record could not be written. Either directory may
// be the cause: a record an earlier container with this id left live is
// moved to the archive first, and is never overwritten.
func (h *Hook) recordError(id string, err error) error {
	return userror.Wrapf(err, h.Store.LivePath(id), "check that "+h.Store.RunDir+" and "+h.Store.ArchiveDir+" are writable", "cannot write the container's IMA record")
}

// skipped means: optional IMA could not be had; start without it.
type skipped struct{ why string }

func (s *skipped) Error() string { return s.why }

func (h *Hook) apply(st *specs.State, cfg *config.Config, rec *record.Record) error {
	if st.Pid <= 0 {
		return userror.New("hook stage", "the runtime passed no container pid", "run ima-hook hook --stage createRuntime only from the createRuntime (or prestart) stage")
	}
	feat := h.Kernel.Probe()
	if missing := feat.Missing(); missing != "" {
		if !cfg.Required {
			return &skipped{why: missing}
		}
		return userror.New("kernel", missing, "boot a kernel with CONFIG_IMA_NS (openEuler) or set io.imans.required=false")
	}
	ctrNS, err := h.Kernel.NamespaceOf(st.Pid)
	if err != nil {
		return userror.Wrapf(err, "container pid "+strconv.Itoa(st.Pid), "is the container init still alive?", "cannot read its IMA namespace")
	}
	// Compare with the host's initial namespace, not the hook's own: under
	// the wrapper the hook itself is born into the container's namespace.
	hostNS, err := h.Kernel.NamespaceOf(1)
	if err != nil {
		return userror.Wrapf(err, "/proc/1/ns/ima", "run the hook in the host's pid namespace", "")
	}
	rec.NS = ctrNS
	if ctrNS == hostNS {
		why := "the container runs in the host's IMA namespace: no runtime created one for it"
		if !cfg.Required {
			return &skipped{why: why}
		}
		return userror.New(config.AnnEnable, why, "run the container through the ima-runtime wrapper (docs/runtime-wrapper.md)")
	}
	if cfg.Scope == config.ScopePod {
		// io.imans.scope=pod: a container that joined its pod's namespace
		// finds it populated (kube.go).
		if joined, err := h.joinedPod(st, cfg, rec, ctrNS); joined || err != nil {
			return err
		}
	}
	if owner, ok := h.Store.ReadJoinedNote(st.ID); ok {
		// The wrapper started the container in another container's
		// namespace, which no live container of the pod owns any more
		// (stopped meanwhile, or the pod scope changed): populating it
		// again would load a second configuration into a namespace
		// already configured.
		return userror.New(config.AnnScope, fmt.Sprintf("the wrapper started this container in the IMA namespace of container %s, but no running container of the pod has that namespace any more", orNone(owner)),
			"start the container again (it then creates the pod's namespace)")
	}
	plan, err := h.plan(st.ID, ctrNS, cfg, feat.SecureBoot, feat.KernelConfig)
	if err != nil {
		return err
	}
	rec.Created = plan.CreatedByWrapper
	if plan.CreatedByWrapper {
		// The wrapper's note of the container's init, by which it tells its
		// live notes from stale ones (record.Store.NoteLive).
		if err := record.WriteProcNote(h.Store.InitPath(st.ID), st.Pid); err != nil {
			return userror.Wrapf(err, h.Store.InitPath(st.ID), "check that "+h.Store.RunDir+" is writable", "cannot note the container's init process")
		}
		if n, ok := h.Store.ReadListStart(st.ID); ok {
			rec.ListStart = &n
		}
	}
	rec.Template = feat.Template
	rec.InForceSHA, rec.InForceRules, rec.BuiltinsReplaced = inForceSHA256(plan.InForce), len(plan.InForce), plan.BuiltinsReplaced
	for _, w := range plan.Warnings {
		// Logged as the config's warnings are, so that an admin sees them.
		h.Log.Error(st.ID, "warning: %s", w)
		rec.Warnings = append(rec.Warnings, w)
	}
	if err := h.preflight(st, cfg, rec, plan.inForce); err != nil {
		return err
	}
	if len(plan.Rules) > 0 || plan.PolicyPath != "" {
		// Known up front from the kernel config: this kernel loads one
		// policy ever, and every later open of the policy file fails.
		why := feat.WritePolicyProblem()
		switch {
		case why != "":
		case !feat.PolicyFile:
			why = "the IMA policy file is gone: a kernel built without CONFIG_IMA_WRITE_POLICY removes it after the first policy load"
		case !feat.PolicyWritable:
			why = "the IMA policy file lost its owner-write bit after the first policy load: this kernel has CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY and keeps the file busy (EBUSY) for every namespace"
		}
		if why != "" {
			return userror.New("kernel", why+"; ima-hook loads a policy into each container's namespace",
				"boot a kernel built with CONFIG_IMA_WRITE_POLICY=y")
		}
	}
	if cfg.Cert != nil {
		if err := h.checkKeyCopy(st.ID, cfg, plan, rec); err != nil {
			return err
		}
	}
	req := ns.PopulateRequest{PolicyRules: plan.Rules, PolicyPath: plan.PolicyPath, Keyring: cfg.Keyring, Expect: ctrNS,
		ListKeys: cfg.Cert != nil}
	if plan.AddKey {
		req.KeyDER = cfg.Cert.DER
	}
	if plan.PolicyPath != "" {
		// The kernel reads a policy file itself, later than it was
		// checked: hand it a private copy of exactly the checked bytes.
		copyPath, err := h.policyCopy(st.ID, cfg)
		if err != nil {
			return err
		}
		defer os.Remove(copyPath)
		req.PolicyPath = copyPath
	}
	beforePopulate()
	res, err := h.Kernel.Populate(st.Pid, req)
	if err != nil {
		return err
	}
	rec.Measurement, rec.Violations, rec.Aggregate = res.MeasurementCount, res.Violations, res.AggregatePresent
	if err := verify(plan, res); err != nil {
		return err
	}
	if cfg.Cert != nil {
		if err := verifyKey(cfg, plan, res, feat); err != nil {
			return err
		}
		if !plan.AddKey {
			// The listing may show other namespaces' keys (keyproof.go).
			if err := h.ownKey(st.Pid, ctrNS, cfg); err != nil {
				return err
			}
		}
	}
	// Last: poststop reads the namespace's own view through the pin (view.go).
	return h.pinNamespace(st.ID, st.Pid, rec.NS, cfg.Required)
}

// beforePopulate is a test hook point between the checks and the kernel's
// reads (a key rotated or a path swapped in that window).
var beforePopulate = func() {}

// checkKeyCopy makes the record name the certificate the kernel was
// handed. A namespace the wrapper created was given the wrapper's private
// copy of the certificate it validated (record.Store.X509CopyPath); it
// must be the one the hook validated now, or the key file changed while
// the container was being created. The copy is removed: the kernel read it
// at activation, before the hook ran.
func (h *Hook) checkKeyCopy(id string, cfg *config.Config, plan *PopulatePlan, rec *record.Record) error {
	sum := sha256.Sum256(cfg.Cert.DER)
	rec.KeySHA256 = hex.EncodeToString(sum[:])
	if !plan.CreatedByWrapper {
		return nil // the hook adds these very bytes itself (add_key)
	}
	path := h.Store.X509CopyPath(id)
	handed, err := h.Store.ReadPrivateCopy(path, config.MaxKeySize)
	os.Remove(path)
	if err != nil {
		return userror.Wrapf(err, config.AnnX509, "start the container through this version's ima-runtime wrapper", "cannot read the copy of the certificate the wrapper handed the kernel (%s)", path)
	}
	got := sha256.Sum256(handed)
	if got != sum {
		return userror.New(config.AnnX509, fmt.Sprintf("%s changed while the container was being created: the kernel was handed sha256 %s, the file now has %s",
			cfg.X509Path, hex.EncodeToString(got[:]), rec.KeySHA256), "do not replace keys while containers start; retry")
	}
	return nil
}

// policyCopy writes the validated policy text to a root-only private file
// for the kernel to read, with the original's signature (security.ima):
// the kernel appraises the copy, so a signature that does not match the
// validated bytes fails there.
func (h *Hook) policyCopy(id string, cfg *config.Config) (string, error) {
	path := h.Store.PolicyCopyPath(id)
	if err := h.Store.WritePrivateCopy(path, []byte(cfg.PolicyText)); err != nil {
		return "", userror.Wrapf(err, path, "check that the run directory is writable", "cannot write the private copy of the policy")
	}
	if sig, err := getxattr(cfg.PolicyPath, "security.ima"); err == nil && len(sig) > 0 {
		if err := unix.Setxattr(path, "security.ima", sig, 0); err != nil {
			os.Remove(path)
			return "", userror.Wrapf(err, path, "put the run directory on a filesystem with extended attributes (tmpfs, ext4, xfs)", "cannot give the private copy of the policy its signature (security.ima)")
		}
	}
	return path, nil
}

// getxattr reads an extended attribute of path itself (not a symlink's
// target), bounded.
func getxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 4096)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// verifyKey proves that the appraisal key is in the namespace's keyring. A
// key the wrapper handed to the kernel (x509_for_children) is loaded at
// activation only with CONFIG_IMA_LOAD_X509, and with
// CONFIG_IMA_TRUSTED_KEYRING only if a trusted key signed it; both fail
// silently (at most a kernel log line), so it is looked for, never assumed.
func verifyKey(cfg *config.Config, plan *PopulatePlan, res ns.PopulateResult, feat ns.Features) error {
	want := cfg.Cert.KeyID
	for _, id := range res.KeyIDs {
		if id == want {
			return nil
		}
	}
	subject := config.AnnX509
	missing := fmt.Sprintf("the key of %s (IMA key id %08x) is not in the namespace's keyring after creation", cfg.X509Path, want)
	if plan.AddKey {
		missing = fmt.Sprintf("the key of %s (IMA key id %08x) was added but is not in the namespace's keyring", cfg.X509Path, want)
	}
	c := feat.KernelConfig
	switch {
	case plan.AddKey:
		return userror.New(subject, missing, "check the kernel log (dmesg) and the keyring (keyctl show %keyring:"+feat.ImaKeyring+")")
	case c != nil && !c.Enabled("CONFIG_IMA_LOAD_X509"):
		return userror.New(subject, missing+": this kernel is built without CONFIG_IMA_LOAD_X509 ("+c.Source+
			"), so it never loads the certificate given through x509_for_children",
			"boot a kernel built with CONFIG_IMA_LOAD_X509=y")
	case c != nil && c.Enabled("CONFIG_IMA_TRUSTED_KEYRING"):
		return userror.New(subject, missing+": with CONFIG_IMA_TRUSTED_KEYRING ("+c.Source+
			") the kernel drops a certificate that no key in the built-in or secondary trusted keyring signed",
			"sign the certificate with a CA whose key is in .builtin_trusted_keys or .secondary_trusted_keys")
	case c != nil:
		return userror.New(subject, missing+": the kernel failed to load it",
			`look for "IMA ns x509 cert. loading failed" in the kernel log (dmesg)`)
	}
	cause := "the kernel did not load it: either it is built without CONFIG_IMA_LOAD_X509, or its trusted keyring dropped a certificate not signed by a built-in or secondary trusted key"
	if feat.ImaKeyring == ".ima" {
		cause = "the kernel did not load it: the .ima keyring is a trusted keyring that drops a certificate no built-in or secondary trusted key signed, or the kernel is built without CONFIG_IMA_LOAD_X509"
	}
	return userror.New(subject, missing+": "+cause+" ("+feat.KernelConfigError+")",
		"use a kernel with CONFIG_IMA_LOAD_X509=y and a certificate signed by a trusted CA; the kernel config tells which is missing")
}

// plan decides what to write. It fails where the config cannot be honoured
// in a namespace that the wrapper did not create. secureBoot says that the
// platform booted with secure boot, whatever the admin's kernel profile
// knows: the architecture rules are then in force in the namespace.
func (h *Hook) plan(id string, ctrNS imansid.ID, cfg *config.Config, secureBoot bool, kernel *kconfig.Config) (*PopulatePlan, error) {
	p := &PopulatePlan{NS: ctrNS}
	created, err := h.createdByWrapper(id, ctrNS)
	if err != nil {
		return nil, err
	}
	p.CreatedByWrapper = created
	if p.Warnings, err = cfg.CheckNamespace(created, kernel); err != nil {
		return nil, err
	}
	p.AddKey = !created && cfg.Cert != nil
	// The namespace ends up with what the kernel makes of the kcmd and the
	// custom policy: the custom rules replace the kcmd's built-ins at the
	// first load (policy.HookRules says why they are not written back).
	// Without a custom policy, a namespace the wrapper created already has
	// its kcmd's rules, and one it did not create gets them loaded.
	prof := cfg.Profile
	prof.SecureBoot = prof.SecureBoot || secureBoot
	replaced, err := policy.ReplacedBuiltins(cfg.Kcmd, prof)
	if err != nil {
		return nil, userror.Wrapf(err, config.AnnKcmd, "use a built-in policy the kernel knows", "")
	}
	p.inForce, err = policy.ExpandKcmd(cfg.Kcmd, prof)
	if err != nil {
		return nil, userror.Wrapf(err, config.AnnKcmd, "use a built-in policy the kernel knows", "")
	}
	if cfg.Policy != nil || !created {
		written, err := policy.HookRules(cfg.Kcmd, cfg.Policy, prof)
		if err != nil {
			return nil, userror.Wrapf(err, config.AnnKcmd, "use a built-in policy the kernel knows", "")
		}
		for _, r := range written {
			p.Rules = append(p.Rules, r.Text)
		}
		if len(written) > 0 {
			p.inForce = policy.Loaded(written, prof)
		}
	}
	if cfg.Policy != nil && len(replaced) > 0 {
		p.BuiltinsReplaced = true
		if cfg.Sources[config.AnnKcmd] == config.AnnKcmd {
			// Asked for explicitly, the built-ins would be missed: say
			// so (the admin's default kcmd gets no warning).
			p.Warnings = append(p.Warnings, replacedWarning(cfg, replaced))
		}
	}
	for _, r := range p.inForce {
		p.InForce = append(p.InForce, r.Text)
	}
	if cfg.Policy != nil {
		if created && cfg.Kcmd.SignedPolicyRequired(cfg.Profile) {
			// The namespace appraises POLICY_CHECK from birth: the kernel
			// refuses rule text, only a (signed) policy file is taken
			// (cfg.CheckNamespace refused inline rules).
			p.Rules, p.PolicyPath = nil, cfg.PolicyPath
		}
	}
	return p, nil
}

// replacedWarning says that the custom policy replaces the built-ins an
// io.imans.kcmd annotation asked for, as the kernel's first load does.
func replacedWarning(cfg *config.Config, replaced []policy.Rule) string {
	var names []string
	for _, r := range replaced {
		n := strings.TrimPrefix(r.Source, "builtin:")
		if len(names) == 0 || names[len(names)-1] != n {
			names = append(names, n)
		}
	}
	polKey := config.AnnPolicyRules
	if cfg.PolicyPath != "" {
		polKey = config.AnnPolicy
	}
	if src := cfg.Sources[polKey]; src != "" {
		polKey = src
	}
	return fmt.Sprintf("%s: the custom policy (%s) replaces the ima_policy=%s built-in rules when it is loaded, as the kernel does: "+
		"only its rules (and any architecture rules) are in force; copy the built-in rules you want to keep into the policy "+
		"(ima-hook policy check --kcmd '%s' --explain lists them)", config.AnnKcmd, polKey, strings.Join(names, "|"), cfg.KcmdText)
}

// inForceSHA256 is the hex sha256 of the rules in force, one rule and a
// newline each (as `ima-hook policy check --explain` would list them).
func inForceSHA256(rules []string) string {
	h := sha256.New()
	for _, r := range rules {
		h.Write([]byte(r))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// createdByWrapper reads what the wrapper noted for this container.
func (h *Hook) createdByWrapper(id string, ctrNS imansid.ID) (bool, error) {
	want, ok, err := h.Store.ReadNSIDNote(id)
	if err != nil {
		return false, userror.Wrapf(err, h.Store.PendingNSPath(id), "remove the file and restart the container", "")
	}
	if !ok {
		return false, nil
	}
	if want != ctrNS {
		return false, userror.New(h.Store.PendingNSPath(id), fmt.Sprintf("the wrapper created namespace %d but the container is in %d", want, ctrNS),
			"the container id was reused while a record was left behind; remove the file and restart")
	}
	return true, nil
}

func verify(p *PopulatePlan, res ns.PopulateResult) error {
	if res.NS != p.NS {
		return userror.New("IMA namespace", fmt.Sprintf("populated namespace %d, expected %d", res.NS, p.NS), "retry; report a bug if it persists")
	}
	want := len(p.Rules)
	if p.PolicyPath != "" {
		want = 1
	}
	if res.RulesWritten != want {
		return userror.New("IMA namespace", fmt.Sprintf("wrote %d of %d policy rules", res.RulesWritten, want), "check the kernel log")
	}
	if !res.AggregatePresent {
		return userror.New("IMA namespace", fmt.Sprintf("the namespace's measurement list has no %s entry", measure.NSAggregateName(p.NS)),
			"the namespace was not activated as expected; check the kernel log")
	}
	return nil
}
