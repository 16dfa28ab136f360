package keys

import (
	"bufio"
	"crypto"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchFiles returns the files to hash: the list named by
// IMAHOOK_HASH_FILES (one path per line, as bench/keys-hash.sh writes it),
// or one generated 64 MiB file.
func benchFiles(b *testing.B) ([]string, int64) {
	b.Helper()
	var files []string
	if list := os.Getenv("IMAHOOK_HASH_FILES"); list != "" {
		f, err := os.Open(list)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if p := strings.TrimSpace(sc.Text()); p != "" {
				files = append(files, p)
			}
		}
	} else {
		p := filepath.Join(b.TempDir(), "data")
		buf := make([]byte, 64<<20)
		rand.Read(buf)
		if err := os.WriteFile(p, buf, 0o600); err != nil {
			b.Fatal(err)
		}
		files = []string{p}
	}
	var total int64
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		total += st.Size()
	}
	return files, total
}

// BenchmarkHashFiles hashes the files one after the other with sha256, as
// sha256sum does (one core), reporting MB/s.
func BenchmarkHashFiles(b *testing.B) {
	files, total := benchFiles(b)
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range files {
			if _, err := HashFile(p, HashSHA256); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecodeVerifyRSA: decoding and verifying one RSA-2048 signature,
// the per-file cost on top of hashing.
func BenchmarkDecodeVerifyRSA(b *testing.B) {
	k := makeCert(b, "", keySpec{name: "bench", algo: "rsa2048", skid: skidA})
	c := mustLoad(b, k.der, Options{})
	digest := make([]byte, 32)
	sig, err := k.priv.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	raw := append([]byte{0x03, 0x02, 0x04, 0xaa, 0xbb, 0xcc, 0xdd, byte(len(sig) >> 8), byte(len(sig))}, sig...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := DecodeIMAXattr(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifySignature(x, digest, []*Certificate{c}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHashFilesOnce is the measured unit of bench/keys-hash.sh: with
// IMAHOOK_HASH_FILES set it hashes each listed file once with sha256 and
// prints "<hex>  <path>" like sha256sum (so the script can check both tools
// agree); without it, it skips.
func TestHashFilesOnce(t *testing.T) {
	list := os.Getenv("IMAHOOK_HASH_FILES")
	if list == "" {
		t.Skip("IMAHOOK_HASH_FILES not set (used by bench/keys-hash.sh)")
	}
	f, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		sum, err := HashFile(p, HashSHA256)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "%x  %s\n", sum, p)
	}
}
