package keys

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ProcKey is one line of /proc/keys (proc_keys_show):
//
//	%08x %c%c%c%c%c%c%c %5d %4s %08x %5d %5d %-9.9s <describe>
//
// e.g. "2f7940b7 I--Q---     1 perm 3f030000     0     0 keyring   _ses: 1".
// Only keys the reader may view are listed (root sees the system keyrings
// such as .builtin_trusted_keys and .ima).
type ProcKey struct {
	Serial  int32
	Flags   string
	Usage   int
	Timeout string // "perm", "expd" or a remaining time such as "2d"
	Perm    uint32
	UID     int
	GID     int
	Type    string // truncated to 9 characters by the kernel ("asymmetri")
	// Description is the key's description; for keyrings the ": N" /
	// ": empty" suffix that keyring_describe adds is removed.
	Description string
	// Info is the rest of the describe output ("1", "empty", for
	// asymmetric keys "<skid or serial hex>: X509.rsa <id tail> []").
	Info string
}

// Bounds for reading /proc/keys: a user's key quota is 200 keys by
// default (root 1e6 keys, but no real system has that many).
const (
	maxProcKeysBytes = 8 << 20
	maxProcKeysLines = 100000
)

// ParseProcKeys parses /proc/keys content. Malformed lines are errors
// naming the line number (the format is kernel ABI; a surprise there
// should be loud, not skipped).
func ParseProcKeys(r io.Reader) ([]ProcKey, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxProcKeysBytes+1))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var out []ProcKey
	total := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		total += len(text) + 1
		if total > maxProcKeysBytes {
			return nil, fmt.Errorf("/proc/keys: more than %d bytes", maxProcKeysBytes)
		}
		if line > maxProcKeysLines {
			return nil, fmt.Errorf("/proc/keys: more than %d lines", maxProcKeysLines)
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		k, err := parseProcKeyLine(text)
		if err != nil {
			return nil, fmt.Errorf("/proc/keys line %d: %w", line, err)
		}
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/keys: %w", err)
	}
	return out, nil
}

func parseProcKeyLine(s string) (ProcKey, error) {
	var k ProcKey
	var f [8]string
	var start [8]int
	pos := 0
	for i := range f {
		for pos < len(s) && s[pos] == ' ' {
			pos++
		}
		if pos == len(s) {
			return k, fmt.Errorf("column %d: missing field %d", pos+1, i+1)
		}
		end := strings.IndexByte(s[pos:], ' ')
		if end < 0 {
			end = len(s) - pos
		}
		f[i], start[i] = s[pos:pos+end], pos
		pos += end
	}
	rest := s[pos:]
	col := func(i int) int { return start[i] + 1 }
	serial, err := strconv.ParseUint(f[0], 16, 32)
	if err != nil || len(f[0]) != 8 {
		return k, fmt.Errorf("column 1: serial %q is not 8 hex digits", f[0])
	}
	k.Serial = int32(serial)
	if len(f[1]) != 7 {
		return k, fmt.Errorf("column %d: flags %q are not 7 characters", col(1), f[1])
	}
	k.Flags = f[1]
	if k.Usage, err = strconv.Atoi(f[2]); err != nil {
		return k, fmt.Errorf("column %d: usage %q is not a number", col(2), f[2])
	}
	k.Timeout = f[3]
	perm, err := strconv.ParseUint(f[4], 16, 32)
	if err != nil {
		return k, fmt.Errorf("column %d: permissions %q are not hex", col(4), f[4])
	}
	k.Perm = uint32(perm)
	if k.UID, err = strconv.Atoi(f[5]); err != nil {
		return k, fmt.Errorf("column %d: uid %q is not a number", col(5), f[5])
	}
	if k.GID, err = strconv.Atoi(f[6]); err != nil {
		return k, fmt.Errorf("column %d: gid %q is not a number", col(6), f[6])
	}
	k.Type = f[7]
	// The type is printed %-9.9s followed by one space, then describe.
	pad := 1
	if len(k.Type) < 9 {
		pad = 10 - len(k.Type)
	}
	if len(rest) < pad || strings.TrimLeft(rest[:pad], " ") != "" {
		return k, fmt.Errorf("column %d: type %q not followed by its padding", col(7), k.Type)
	}
	desc := rest[pad:]
	if k.Type == "keyring" {
		// keyring_describe: description, then ": <n>" or ": empty" once
		// the keyring is instantiated.
		if i := strings.LastIndex(desc, ": "); i >= 0 {
			tail := desc[i+2:]
			if tail == "empty" || isDigits(tail) {
				k.Description, k.Info = desc[:i], tail
				return k, nil
			}
		}
		k.Description = desc
		return k, nil
	}
	if i := strings.Index(desc, ": "); i >= 0 {
		k.Description, k.Info = desc[:i], desc[i+2:]
	} else {
		k.Description = desc
	}
	return k, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FindKeyring returns the serial of the keyring with this exact
// description, as keyutils resolves "%keyring:.ima". ok is false when no
// such keyring is visible.
func FindKeyring(keys []ProcKey, description string) (serial int32, ok bool) {
	for _, k := range keys {
		if k.Type == "keyring" && k.Description == description {
			return k.Serial, true
		}
	}
	return 0, false
}

// AsymmetricKeyID returns the key id that asymmetric_key_describe prints
// for an asymmetric key in /proc/keys: the description, then
// ": <id type>.<algorithm> <last 4 bytes of the key identifier in hex> [...]",
// e.g. "ima test: 01020304deadbeef: X509.rsa deadbeef []". For an X.509
// certificate those bytes are the subject key identifier's last four, which
// is the IMA key id (calc_keyid_v2) evmctl puts into signatures. ok is false
// for other key types and keys without an identifier.
func AsymmetricKeyID(k ProcKey) (id uint32, ok bool) {
	if k.Type != "asymmetri" {
		return 0, false
	}
	d := k.Description
	if k.Info != "" {
		d += ": " + k.Info
	}
	// From the end: " [" ... "]", the hex id, the "<type>.<algo>" word.
	open := strings.LastIndex(d, " [")
	if open < 0 || !strings.HasSuffix(d, "]") {
		return 0, false
	}
	head := d[:open]
	sp := strings.LastIndexByte(head, ' ')
	if sp < 0 {
		return 0, false
	}
	hex := head[sp+1:]
	sub := head[:sp]
	if len(hex) == 0 || len(hex) > 8 || len(hex)%2 != 0 {
		return 0, false
	}
	for _, c := range []byte(hex) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, false
		}
	}
	// The subtype word ("X509.rsa") follows ": ".
	colon := strings.LastIndex(sub, ": ")
	if colon < 0 || !strings.Contains(sub[colon+2:], ".") || strings.ContainsAny(sub[colon+2:], " ") {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
