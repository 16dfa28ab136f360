package config

import (
	"fmt"
	"path/filepath"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/kube"
)

// Scopes of io.imans.scope.
const (
	// ScopeContainer: each app container of a pod gets a namespace of its
	// own (the default).
	ScopeContainer = "container"
	// ScopePod: the pod's app containers share one namespace.
	ScopePod = "pod"
)

// resolveScope validates io.imans.scope (or [defaults] scope) and notes
// whether the container is a pod's sandbox, from the CRI annotations
// containerd and CRI-O set (kube.IsSandbox), unless IMA is mandatory.
func resolveScope(c *Config, ann map[string]string, scope, source string, mandatory bool) error {
	switch scope {
	case ScopeContainer, "":
		c.Scope = ScopeContainer
	case ScopePod:
		c.Scope = ScopePod
	default:
		return userror.New(source, fmt.Sprintf("%s is not a scope", userror.Quote(scope)),
			`use "container" (a namespace for each app container) or "pod" (one namespace for the pod's app containers)`)
	}
	// Under mandatory = true a claimed sandbox gets a namespace like any
	// container (Config.Sandbox says why).
	c.Sandbox = kube.IsSandbox(ann) && !mandatory
	return nil
}

// checkName applies allow_absolute_paths to a file an annotation names:
// with it false, only a name (or a path relative to dir) is taken. The
// admin's own [defaults] may always give absolute paths.
func checkName(a *Admin, source, value, dir string) error {
	if a.AllowAbsolutePaths || value == "" || !filepath.IsAbs(value) || source != annotationOf(source) {
		return nil
	}
	return userror.New(source, fmt.Sprintf("%s is an absolute path, but the admin config does not allow them (allow_absolute_paths = false)", userror.Quote(value)),
		"name the file inside "+dir+" instead, e.g. "+source+"="+filepath.Base(value))
}

// annotationOf returns source when it is an annotation key, "" when it is
// an admin setting.
func annotationOf(source string) string {
	if isKnown(source) {
		return source
	}
	return ""
}
