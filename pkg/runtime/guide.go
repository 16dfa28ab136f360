package runtime

import (
	"fmt"
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
)

// maxGuideValue bounds a guide flag's value (a path or a kcmd; the kernel
// takes a kcmd of at most a page).
const maxGuideValue = 4096

// SplitGuideFlags takes the original IMA-namespace guide's flags (--imans,
// --ima-x509 PATH, --ima-kcmd "...") from the front of a runtime command
// line, where Docker and iSulad put a runtime entry's runtimeArgs, and
// returns them with the rest, which is what the real runtime gets. Every
// form a daemon.json produces is read: the flag and its value as two
// elements, "--flag=value", and "--flag value" as one element (a JSON
// string with a space in it), with one pair of quotes around the value
// dropped; one or two dashes, as runc takes them. Docker 20.10 hands
// runtimeArgs over through a shell script that splits them at spaces, so a
// kcmd's later parameters ("ima_appraise=log") may follow --ima-kcmd's
// value as elements of their own: they are joined back.
//
// Only leading flags are taken: a guide flag after the first other argument
// belongs to the runtime (which refuses it). A flag given twice, without a
// value or with one over 4 KiB is an error naming it.
func SplitGuideFlags(args []string) (config.RuntimeDefaults, []string, error) {
	var d config.RuntimeDefaults
	seen := map[string]bool{}
	i := 0
	for i < len(args) {
		name, value, hasValue, ok := guideFlag(args[i])
		if !ok {
			break
		}
		subject := fmt.Sprintf("runtime argument %d (%s)", i+1, quoteArg(args[i]))
		if seen[name] {
			return d, args, userror.New(subject, name+" given twice", "give it once in runtimeArgs")
		}
		seen[name] = true
		if name == config.FlagIMANS {
			switch v := strings.TrimSpace(value); {
			case !hasValue, v == "", v == "true":
				d.Enable = true
			case v == "false":
			default:
				return d, args, userror.New(subject, fmt.Sprintf("%s takes no value (got %s)", name, quoteArg(value)), "write just --imans")
			}
			i++
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return d, args, userror.New(subject, name+" needs a value", fmt.Sprintf(`write "%s VALUE"`, name))
			}
			i++
			value = args[i]
		}
		value = strings.TrimSpace(unquote(strings.TrimSpace(value)))
		if name == config.FlagKcmd {
			// Docker (20.10) writes a runtime entry with runtimeArgs as
			// a shell script with the arguments unquoted, so
			// "--ima-kcmd ima_policy=tcb ima_appraise=log" arrives as
			// three words: the kcmd's later parameters follow as
			// elements of their own. No runtime argument looks like
			// "ima_name=value".
			for i+1 < len(args) && isKcmdParam(args[i+1]) {
				i++
				value += " " + args[i]
			}
		}
		switch {
		case value == "":
			return d, args, userror.New(subject, name+" has an empty value", fmt.Sprintf(`write "%s VALUE"`, name))
		case len(value) > maxGuideValue:
			return d, args, userror.New(subject, fmt.Sprintf("%s value is %d bytes, more than %d", name, len(value), maxGuideValue), "shorten it")
		case unquote(value) != value:
			return d, args, userror.New(subject, name+" value is quoted twice", "quote it once, or not at all")
		case strings.ContainsAny(value, "\x00\n"):
			return d, args, userror.New(subject, name+" value holds a NUL or newline", "give a single-line value")
		}
		if name == config.FlagX509 {
			d.X509 = value
		} else {
			d.Kcmd = value
		}
		i++
	}
	return d, args[i:], nil
}

// isKcmdParam reports a kcmd_for_children parameter ("ima_policy=tcb").
func isKcmdParam(a string) bool {
	name, _, ok := strings.Cut(a, "=")
	if !ok || !strings.HasPrefix(name, "ima_") || len(name) == len("ima_") {
		return false
	}
	for _, c := range name {
		if c != '_' && (c < 'a' || c > 'z') {
			return false
		}
	}
	return !strings.ContainsAny(a, " \t\n\x00")
}

// guideFlag recognises one guide flag element: its canonical name, the value
// it carries ("--flag=v" or "--flag v"), and whether it carries one.
func guideFlag(a string) (name, value string, hasValue, ok bool) {
	if !strings.HasPrefix(a, "-") {
		return "", "", false, false
	}
	body := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	key, rest := body, ""
	if i := strings.IndexAny(body, "= \t"); i >= 0 {
		key, rest, hasValue = body[:i], body[i+1:], true
	}
	switch key {
	case "imans", "ima-x509", "ima-kcmd":
		return "--" + key, rest, hasValue, true
	}
	return "", "", false, false
}

// unquote drops one pair of matching quotes around v ("--ima-kcmd
// \"ima_policy=tcb\"" in a daemon.json keeps the quotes a shell would have
// removed).
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
