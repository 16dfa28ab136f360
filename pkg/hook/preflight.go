package hook

import (
	"context"
	"errors"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/oci"
	"github.com/ima-hook/ima-hook/pkg/policy"
	"github.com/ima-hook/ima-hook/pkg/preflight"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// preflight predicts, before the namespace gets its policy, which of the
// container's files appraisal will refuse (io.imans.preflight). With
// enforce, a refused file on the entrypoint chain keeps the container from
// starting; with warn it is logged and recorded. At createRuntime the
// rootfs is mounted, so the walk sees what the container will see.
//
// It judges inForce, the rules the plan leaves in force (PopulatePlan.InForce).
func (h *Hook) preflight(st *specs.State, cfg *config.Config, rec *record.Record, inForce []policy.Rule) error {
	if cfg.Preflight == "" || cfg.Preflight == "off" {
		return nil
	}
	spec, err := oci.ReadConfig(st.Bundle)
	if err != nil {
		return userror.Wrapf(err, filepath.Join(st.Bundle, "config.json"), "check the bundle, or set io.imans.preflight=off", "the preflight needs the bundle config")
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return userror.New(filepath.Join(st.Bundle, "config.json"), "no root.path for the preflight to walk", "set root.path, or io.imans.preflight=off")
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(st.Bundle, rootfs)
	}
	// Numbered from 1 in kernel order, as preflight.EffectiveRules does.
	rules := append([]policy.Rule(nil), inForce...)
	for i := range rules {
		rules[i].Index = i + 1
	}
	var certs []*keys.Certificate
	if cfg.Cert != nil {
		certs = append(certs, cfg.Cert)
	}
	opt := preflight.Options{Rootfs: rootfs, Spec: spec, Rules: rules, Certs: certs, Appraise: cfg.Kcmd.Appraise}
	if fs, err := preflight.DetectFS(rootfs); err == nil {
		opt.FSMagic = fs.Magic
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Admin.PreflightBudget())
	defer cancel()
	rep, err := preflight.Run(ctx, opt)
	var incomplete *preflight.IncompleteError
	switch {
	case errors.As(err, &incomplete):
		if cfg.Preflight == "enforce" {
			return userror.Wrapf(err, config.AnnPreflight, "raise preflight_timeout in the admin config, or set io.imans.preflight=warn", "")
		}
		h.Log.Info(st.ID, "preflight warning: %v", err)
	case err != nil:
		return userror.Wrapf(err, config.AnnPreflight, "set io.imans.preflight=off to start without it", "the appraisal preflight failed")
	}
	if rep == nil {
		return nil
	}
	rec.Preflight = rep.Summary(3)
	if len(rep.Blocking) > 0 {
		if cfg.Preflight == "enforce" {
			return userror.New(config.AnnPreflight, rep.Summary(3),
				"sign those files with the namespace's key (evmctl ima_sign), or set io.imans.preflight=warn")
		}
		h.Log.Info(st.ID, "preflight warning: %s", rec.Preflight)
		return nil
	}
	// Enforce promises that the entrypoint chain will pass: what the
	// preflight could not decide (a missing entrypoint, a file over the
	// byte budget, a rule on LSM labels, a limit) is no pass.
	if rep.Enforcing && !rep.ChainDecided() {
		if cfg.Preflight == "enforce" {
			return userror.New(config.AnnPreflight, "the appraisal preflight cannot tell whether the container would start: "+rep.Undecided(3),
				"fix what the reasons name (sign the files with evmctl ima_sign, fix the entrypoint), or set io.imans.preflight=warn")
		}
		h.Log.Info(st.ID, "preflight warning: %s", rec.Preflight)
		return nil
	}
	h.Log.Info(st.ID, "preflight: %s", rec.Preflight)
	return nil
}
