package policy

import (
	"fmt"
	"strings"
	"testing"
)

// benchPolicy is a realistic container policy of n rules: the tcb
// built-in, then per-directory measure and appraise rules.
func benchPolicy(n int) string {
	var b strings.Builder
	b.WriteString("# container policy\n")
	tcb, _ := builtinTexts("tcb", &Profile{})
	for i := 0; i < n; i++ {
		if i < len(tcb) {
			b.WriteString(tcb[i])
		} else {
			fmt.Fprintf(&b, "appraise func=BPRM_CHECK fowner=%d fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6 appraise_type=imasig", 1000+i)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func benchParse(b *testing.B, n int) {
	p := debian61(b)
	text := benchPolicy(n)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		pol, errs := Parse(text, p)
		if len(errs) != 0 || len(pol.Rules) != n {
			b.Fatal(errs)
		}
	}
}

func BenchmarkParse50(b *testing.B)   { benchParse(b, 50) }
func BenchmarkParse2048(b *testing.B) { benchParse(b, 2048) }

// BenchmarkTokenize50 is the baseline: what any reader of the same text
// must do at least (split lines, skip comments, split and join tokens).
func BenchmarkTokenize50(b *testing.B) {
	text := benchPolicy(50)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || strings.HasPrefix(f[0], "#") {
				continue
			}
			if strings.Join(f, " ") != "" {
				n++
			}
		}
		if n != 50 {
			b.Fatal(n)
		}
	}
}

func BenchmarkParseKcmd(b *testing.B) {
	p := DefaultProfile()
	opt := KcmdOptions{AllowTemplate: true, Profile: &p}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseKcmd("ima_policy=tcb|appraise_tcb ima_appraise=fix ima_template=ima-ns", opt); err != nil {
			b.Fatal(err)
		}
	}
}
