package keys

import (
	"os"
	"strings"
	"testing"
)

// asymmetric_key_describe: "<description>: <id type>.<algo> <id tail> [...]".
func TestAsymmetricKeyID(t *testing.T) {
	keys, err := ParseProcKeys(strings.NewReader(procKeysFixture))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]uint32{}
	for _, k := range keys {
		if id, ok := AsymmetricKeyID(k); ok {
			got[k.Serial] = id
		}
	}
	if len(got) != 1 || got[0x0157db4a] != 0x3dd73cda {
		t.Fatalf("key ids %x; want only 0157db4a -> 3dd73cda (the key without an id has none)", got)
	}
	if ids := keyIDsOf(keys, []int32{0x0157db4a, 0x189d6357, 0x1b8e3a2c}); len(ids) != 1 || ids[0] != 0x3dd73cda {
		t.Fatalf("members' key ids %x", ids)
	}
	if ids := keyIDsOf(keys, []int32{0x189d6357}); len(ids) != 0 {
		t.Fatalf("a keyring without that key: %x", ids)
	}
	for _, bad := range []string{
		"0157db4a I--Q---     1 perm 39010000     0     0 asymmetri t: X509.rsa 3dd73cdaff []",
		"0157db4a I--Q---     1 perm 39010000     0     0 asymmetri t: X509.rsa 3dd73cdZ []",
		"0157db4a I--Q---     1 perm 39010000     0     0 asymmetri t: 3dd73cda []",
		"0157db4a I--Q---     1 perm 39010000     0     0 user      t: X509.rsa 3dd73cda []",
	} {
		k, err := ParseProcKeys(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := AsymmetricKeyID(k[0]); ok {
			t.Errorf("%q: key id %08x", bad, id)
		}
	}
}

// The real kernel: keys added to a keyring are found by KEYCTL_READ and
// /proc/keys with the key id evmctl uses (certificates with a SKID).
func TestKeyIDsOfRealKeyring(t *testing.T) {
	ring := scratchKeyring(t)
	k := makeCert(t, "", keySpec{name: "skid-custom", algo: "rsa2048", skid: skidA})
	c := mustLoad(t, k.der, Options{})
	if _, err := addOrSkip(t, k.der, ring); err != nil {
		t.Fatal(err)
	}
	members, err := keyringMembers(ring)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/keys")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	list, err := ParseProcKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	ids := keyIDsOf(list, members)
	if len(ids) != 1 || ids[0] != c.KeyID {
		t.Fatalf("key ids in the keyring %x, want [%s]", ids, c.KeyIDHex())
	}
}
