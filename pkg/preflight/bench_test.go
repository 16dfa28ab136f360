package preflight

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkRun: a whole preflight over 500 files of 64 KiB, each with a
// sha256 security.ima and appraised (so every byte is hashed).
func BenchmarkRun(b *testing.B) {
	dir := b.TempDir()
	if os.Geteuid() != 0 {
		b.Skip("needs root to set security.ima")
	}
	data := bytes.Repeat([]byte("preflight"), 64<<10/9)
	sum := sha256.Sum256(data)
	x := append([]byte{0x04, 0x04}, sum[:]...)
	for i := 0; i < 500; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%20), fmt.Sprintf("f%d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := unix.Setxattr(p, "security.ima", x, 0); err != nil {
			b.Skipf("no xattr support: %v", err)
		}
	}
	r := rules(b, "", "appraise func=FILE_CHECK")
	b.SetBytes(int64(500 * len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Run(context.Background(), Options{Rootfs: dir, Rules: r})
		if err != nil || rep.Counts[Pass] != 500 {
			b.Fatalf("%v %v", err, rep.Counts)
		}
	}
}

// BenchmarkCandidates: matching one access against the appraise_tcb
// built-ins plus custom rules, the per-file cost besides I/O.
func BenchmarkCandidates(b *testing.B) {
	r := rules(b, "ima_policy=appraise_tcb", "appraise func=BPRM_CHECK appraise_type=imasig\nappraise func=FILE_CHECK fowner=1001 uid<1000")
	compiled, err := compileRules(r, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	cr := &creds{known: true}
	fs := fsFacts{magic: MagicOverlay, magicKnown: true, name: "overlay"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		candidates(compiled, accRead, fileFacts{uid: 1001}, fs, cr)
	}
}

func BenchmarkReadELF(b *testing.B) {
	f, err := os.Open("/bin/ls")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	for i := 0; i < b.N; i++ {
		if _, err := readELF(f, st.Size()); err != nil {
			b.Fatal(err)
		}
	}
}
