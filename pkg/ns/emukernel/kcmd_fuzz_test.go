//go:build imaemu

package emukernel

import (
	"strings"
	"testing"
)

// FuzzKernelKcmd: the emulator's port of next_arg and the kcmd setup table
// never panics, always makes progress, and on quote-free input splits
// exactly at blanks and the first '=' after offset 0, as the kernel's
// tokenizer does.
func FuzzKernelKcmd(f *testing.F) {
	for _, s := range []string{"ima_policy=tcb", `ima_policy="tcb appraise_tcb" ima_appraise=log`, "=x", "a", `"a=b c"`,
		"ima_appraise=fix\nima_policy=tcb|secure_boot", `x="`, "\"", "a=\"b\"c d", "ima_policy=\xa0tcb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sw := DefaultSwitches()
		sw.AllowTemplate = true
		k, err := parseKernelKcmd(s, sw)
		if err == nil {
			for _, p := range k.Policies {
				found := false
				for _, f := range kcmdPolicyFlags {
					found = found || p == f
				}
				if !found {
					t.Fatalf("%q: policy %q is not a kernel flag", s, p)
				}
			}
			switch k.Appraise {
			case "", "off", "log", "fix":
			default:
				t.Fatalf("%q: appraise %q", s, k.Appraise)
			}
		}
		rest := skipSpaces(s)
		for steps := 0; rest != ""; steps++ {
			if steps > len(s) {
				t.Fatalf("%q: no progress", s)
			}
			before := rest
			param, val, hasVal, next := nextArg(rest)
			if len(next) >= len(before) {
				t.Fatalf("%q: next_arg did not consume %q", s, before)
			}
			if !strings.ContainsAny(before, "\"\x00") {
				tok := before
				for i := 0; i < len(before); i++ {
					if kisspace(before[i]) {
						tok = before[:i]
						break
					}
				}
				// equals stays 0 (unset) for an '=' at offset 0, so the
				// first '=' after offset 0 splits.
				eq := -1
				if len(tok) > 1 {
					if i := strings.IndexByte(tok[1:], '='); i >= 0 {
						eq = i + 1
					}
				}
				wantHas := eq > 0
				if hasVal != wantHas {
					t.Fatalf("%q: token %q hasVal %v", s, tok, hasVal)
				}
				if wantHas && (param != tok[:eq] || val != tok[eq+1:]) {
					t.Fatalf("%q: token %q split into %q=%q", s, tok, param, val)
				}
				if !wantHas && param != tok {
					t.Fatalf("%q: token %q gave param %q", s, tok, param)
				}
			}
			rest = next
		}
	})
}
