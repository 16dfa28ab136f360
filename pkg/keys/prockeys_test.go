package keys

import (
	"os"
	"strings"
	"testing"
)

// Lines as the kernel prints them (proc_keys_show), taken from this
// machine's /proc/keys plus a .ima keyring line in the same format as a
// CONFIG_INTEGRITY_TRUSTED_KEYRING kernel shows it.
const procKeysFixture = `02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty
0279dd1c I--Q---     1 perm 1f3f0000     0 65534 keyring   _uid_ses.0: 1
0926e2b5 I--Q---     1 perm 0c030000     0 65534 keyring   .user_reg: 2
1b8e3a2c I------     1 perm 1f0f0000     0     0 keyring   .ima: 3
2dbfad04 I------     1 perm 0f0b0000     0     0 keyring   .blacklist: empty
0157db4a I--Q---     1 perm 39010000     0     0 asymmetri t: 38dacf2a38cf825229eb4c6b414746963dd73cda: X509.rsa 3dd73cda []
189d6357 I--Q---     1 perm 39010000     0     0 asymmetri noskid: 1122334455667788: X509.rsa []
3a1f00c1 I--Q---     1   2d 3f010000  1000  1000 user      my: key: 12
12345678 I--Q---   123 expd 3f010000     0     0 keyring   with: colon: empty
`

func TestParseProcKeysFixture(t *testing.T) {
	keys, err := ParseProcKeys(strings.NewReader(procKeysFixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 9 {
		t.Fatalf("%d keys", len(keys))
	}
	ima, ok := FindKeyring(keys, ".ima")
	if !ok || ima != 0x1b8e3a2c {
		t.Errorf(".ima serial %08x %v", ima, ok)
	}
	if _, ok := FindKeyring(keys, "_ima"); ok {
		t.Errorf("found _ima in the fixture")
	}
	// The asymmetric key's line is not a keyring even if someone named it
	// ".ima".
	k := keys[5]
	if k.Type != "asymmetri" || k.Description != "t" || k.Info != "38dacf2a38cf825229eb4c6b414746963dd73cda: X509.rsa 3dd73cda []" || k.Perm != 0x39010000 {
		t.Errorf("asymmetric line: %+v", k)
	}
	u := keys[7]
	if u.Timeout != "2d" || u.UID != 1000 || u.Description != "my" || u.Info != "key: 12" {
		t.Errorf("user line: %+v", u)
	}
	c := keys[8]
	if c.Description != "with: colon" || c.Info != "empty" || c.Usage != 123 || c.Timeout != "expd" {
		t.Errorf("keyring with colon: %+v", c)
	}
}

func TestParseProcKeysErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"zz639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   x: empty", "line 1: column 1: serial"},
		{"02639d80 I--Q--     2 perm 1f3f0000     0 65534 keyring   x: empty", "line 1: column 10: flags"},
		{"02639d80 I--Q---     x perm 1f3f0000     0 65534 keyring   x: empty", "line 1: column 22: usage"},
		{"02639d80 I--Q---     2 perm 1f3f000g     0 65534 keyring   x: empty", "permissions"},
		{"02639d80 I--Q---     2 perm 1f3f0000     a 65534 keyring   x: empty", "uid"},
		{"02639d80 I--Q---     2 perm 1f3f0000     0     b keyring   x: empty", "gid"},
		{"\n02639d80 I--Q---     2 perm", "line 2: column 28: missing field 5"},
		{"02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring", "not followed by its padding"},
	}
	for _, tc := range cases {
		_, err := ParseProcKeys(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
	big := strings.Repeat("x", 70<<10)
	if _, err := ParseProcKeys(strings.NewReader(big)); err == nil {
		t.Errorf("70 KiB line accepted")
	}
}

// The real /proc/keys of the machine running the tests must parse.
func TestParseRealProcKeys(t *testing.T) {
	f, err := os.Open("/proc/keys")
	if err != nil {
		t.Skipf("/proc/keys: %v (kernel without CONFIG_KEYS?)", err)
	}
	defer f.Close()
	keys, err := ParseProcKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d keys visible; .ima keyring present: %v", len(keys), func() bool { _, ok := FindKeyring(keys, ".ima"); return ok }())
}
