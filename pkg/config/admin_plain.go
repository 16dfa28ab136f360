package config

import (
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"
)

// decodeAdminPlain decodes the admin file's common shape without
// reflection: top-level settings, then at most one [defaults] and one
// [kernel] table, each setting once, each value a string or a boolean as
// the setting takes. It reports false, leaving a untouched, for anything
// else: a parse error, bytes that are not UTF-8, an unknown or differently
// cased key, a dotted key, another value type, an inline or array table, a
// repeated setting or table. decodeAdminReflect then decodes the file and
// words whatever is wrong as it always did: this path never refuses.
//
// Why: every container start reads this file, and go-toml's reflecting
// decoder costs some 30 us there the first time it runs in a process,
// while its parser (go-toml's unstable package, the one the decoder itself
// uses) takes 3. FuzzAdminPlainMatchesReflect holds the two to the same
// results wherever this path answers.
func decodeAdminPlain(b []byte, a *Admin) bool {
	if !utf8.Valid(b) {
		return false
	}
	out := *a
	var p unstable.Parser
	p.Reset(b)
	table := ""
	var seen []string // "table.key" and "[table]", a dozen at most
	once := func(name string) bool {
		for _, s := range seen {
			if s == name {
				return false
			}
		}
		seen = append(seen, name)
		return true
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			name, ok := singleKey(e)
			if !ok || (name != "defaults" && name != "kernel") || !once("["+name+"]") {
				return false
			}
			table = name
		case unstable.KeyValue:
			key, ok := singleKey(e)
			if !ok || !once(table+"."+key) {
				return false
			}
			str, flag := out.plainField(table, key)
			v := e.Value()
			switch {
			case str != nil && v.Kind == unstable.String:
				*str = string(v.Data)
			case flag != nil && v.Kind == unstable.Bool:
				*flag = string(v.Data) == "true"
			default:
				return false
			}
		default:
			return false
		}
	}
	if p.Error() != nil {
		return false
	}
	*a = out
	return true
}

// singleKey is the key of a table header or key/value when it has one
// part (bare or quoted), not a dotted one.
func singleKey(e *unstable.Node) (string, bool) {
	it := e.Key()
	if !it.Next() || !it.IsLast() {
		return "", false
	}
	return string(it.Node().Data), true
}

// plainField is the setting key of table ("" for the top level) names: a
// string or a boolean field of a, or neither for a key Admin lacks. The
// names are the toml tags of Admin, Defaults and Kernel
// (TestAdminPlainKnowsEveryField).
func (a *Admin) plainField(table, key string) (*string, *bool) {
	switch table {
	case "":
		switch key {
		case "mandatory":
			return nil, &a.Mandatory
		case "allow_annotation_override":
			return nil, &a.AllowAnnotationOverride
		case "allow_absolute_paths":
			return nil, &a.AllowAbsolutePaths
		case "keys_dir":
			return &a.KeysDir, nil
		case "policies_dir":
			return &a.PoliciesDir, nil
		case "run_dir":
			return &a.RunDir, nil
		case "archive_dir":
			return &a.ArchiveDir, nil
		case "runtime":
			return &a.Runtime, nil
		case "log":
			return &a.Log, nil
		case "preflight_timeout":
			return &a.PreflightTimeout, nil
		}
	case "defaults":
		d := &a.Defaults
		switch key {
		case "required":
			return nil, &d.Required
		case "kcmd":
			return &d.Kcmd, nil
		case "x509":
			return &d.X509, nil
		case "policy":
			return &d.Policy, nil
		case "policy_rules":
			return &d.PolicyRules, nil
		case "preflight":
			return &d.Preflight, nil
		case "scope":
			return &d.Scope, nil
		}
	case "kernel":
		k := &a.Kernel
		switch key {
		case "allow_template":
			return nil, &k.AllowTemplate
		case "keyring":
			return &k.Keyring, nil
		case "config":
			return &k.Config, nil
		case "lsm":
			return &k.LSM, nil
		}
	}
	return nil, nil
}
