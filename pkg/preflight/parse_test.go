package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseShebang(t *testing.T) {
	long := "#!/bin/sh " + strings.Repeat("x", 300)
	cases := []struct {
		in           string
		ok           bool
		interp, arg  string
		errSubstring string
	}{
		{"#!/bin/sh\n", true, "/bin/sh", "", ""},
		{"#! /bin/sh -e\necho\n", true, "/bin/sh", "-e", ""},
		{"#!/usr/bin/env python3 -u\n", true, "/usr/bin/env", "python3 -u", ""},
		{"#!/bin/sh\t \t\n", true, "/bin/sh", "", ""},
		{"#!/bin/sh\r\n", true, "/bin/sh\r", "", ""},
		{"#!/bin/sh\x00junk\n", true, "/bin/sh", "", ""},
		{"#!/bin/sh", true, "/bin/sh", "", ""},
		{long, true, "/bin/sh", strings.Repeat("x", 255-10), ""},
		{"#!" + strings.Repeat("a", 300), true, "", "", "longer than"},
		{"#!" + strings.Repeat(" ", 300), true, "", "", "only spaces"},
		{"#!\n", true, "", "", "no interpreter"},
		{"#!   \t\nrest", true, "", "", "no interpreter"},
		{"#!", true, "", "", "empty interpreter"},
		{"\x7fELF", false, "", "", ""},
		{"#", false, "", "", ""},
		{"", false, "", "", ""},
		{" #!/bin/sh\n", false, "", "", ""},
	}
	for _, c := range cases {
		sb, ok, err := parseShebang([]byte(c.in))
		if ok != c.ok {
			t.Errorf("%q: ok %v, want %v", c.in, ok, c.ok)
			continue
		}
		if c.errSubstring != "" {
			var se *ShebangError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.errSubstring) {
				t.Errorf("%q: error %v, want one saying %q", c.in, err, c.errSubstring)
			}
			continue
		}
		if err != nil || sb.Interp != c.interp || sb.Arg != c.arg {
			t.Errorf("%q: %q %q %v, want %q %q", c.in, sb.Interp, sb.Arg, err, c.interp, c.arg)
		}
	}
}

// readELF must agree with debug/elf (which reads the section headers) on
// the host's programs and libraries: same interpreter, DT_NEEDED and
// DT_RUNPATH/DT_RPATH.
func TestReadELFAgreesWithDebugELF(t *testing.T) {
	var files []string
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	checked := 0
	for _, p := range files {
		if checked >= 400 {
			break
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		st, _ := f.Stat()
		ours, oerr := readELF(f, st.Size())
		ref, rerr := elf.NewFile(f)
		if rerr != nil {
			if oerr == nil && ours.Interp != "" {
				t.Logf("%s: debug/elf refuses (%v), we read interp %q", p, rerr, ours.Interp)
			}
			f.Close()
			continue
		}
		if oerr != nil {
			if !errors.Is(oerr, ErrNotELF) {
				t.Errorf("%s: %v (debug/elf reads it)", p, oerr)
			}
			f.Close()
			continue
		}
		checked++
		var interp string
		for _, pr := range ref.Progs {
			if pr.Type == elf.PT_INTERP {
				b := make([]byte, pr.Filesz)
				pr.ReadAt(b, 0)
				interp = cstr(b)
				break
			}
		}
		needed, _ := ref.ImportedLibraries()
		runpath, _ := ref.DynString(elf.DT_RUNPATH)
		rpath, _ := ref.DynString(elf.DT_RPATH)
		if ours.Interp != interp || strings.Join(ours.Needed, ",") != strings.Join(needed, ",") ||
			strings.Join(ours.RunPath, ":") != strings.Join(splitPath(strings.Join(runpath, ":")), ":") ||
			strings.Join(ours.RPath, ":") != strings.Join(splitPath(strings.Join(rpath, ":")), ":") {
			t.Errorf("%s:\n ours  interp %q needed %v runpath %v rpath %v\n debug interp %q needed %v runpath %v rpath %v",
				p, ours.Interp, ours.Needed, ours.RunPath, ours.RPath, interp, needed, runpath, rpath)
		}
		if ours.Type != ref.Type || ours.Machine != ref.Machine || ours.Class != ref.Class {
			t.Errorf("%s: identity %v %v %v vs %v %v %v", p, ours.Type, ours.Machine, ours.Class, ref.Type, ref.Machine, ref.Class)
		}
		f.Close()
	}
	if checked < 20 {
		t.Skipf("only %d ELF files on this host to compare", checked)
	}
	t.Logf("%d ELF files agree with debug/elf", checked)
}

// miniELF builds a 64-bit little-endian ET_DYN with PT_INTERP, PT_LOAD and
// PT_DYNAMIC (DT_NEEDED, DT_RUNPATH), for malformation tests and the fuzz
// corpus.
func miniELF(interp string, needed []string, runpath string) []byte {
	var strtab bytes.Buffer
	strtab.WriteByte(0)
	var dyn []elf.Dyn64
	for _, n := range needed {
		dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_NEEDED), Val: uint64(strtab.Len())})
		strtab.WriteString(n + "\x00")
	}
	if runpath != "" {
		dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_RUNPATH), Val: uint64(strtab.Len())})
		strtab.WriteString(runpath + "\x00")
	}
	const ehsize, phsize = 64, 56
	nph := 3
	interpOff := uint64(ehsize + nph*phsize)
	strOff := interpOff + uint64(len(interp)+1)
	dynOff := strOff + uint64(strtab.Len())
	dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_STRTAB), Val: 0x1000 + strOff}, elf.Dyn64{Tag: int64(elf.DT_STRSZ), Val: uint64(strtab.Len())}, elf.Dyn64{})
	dynSize := uint64(len(dyn) * 16)
	total := dynOff + dynSize
	var b bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_DYN), Machine: uint16(elf.EM_X86_64), Version: 1, Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: uint16(nph)}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, binary.LittleEndian, h)
	progs := []elf.Prog64{
		{Type: uint32(elf.PT_INTERP), Off: interpOff, Vaddr: 0x1000 + interpOff, Filesz: uint64(len(interp) + 1), Memsz: uint64(len(interp) + 1)},
		{Type: uint32(elf.PT_LOAD), Off: 0, Vaddr: 0x1000, Filesz: total, Memsz: total},
		{Type: uint32(elf.PT_DYNAMIC), Off: dynOff, Vaddr: 0x1000 + dynOff, Filesz: dynSize, Memsz: dynSize},
	}
	binary.Write(&b, binary.LittleEndian, progs)
	b.WriteString(interp + "\x00")
	b.Write(strtab.Bytes())
	binary.Write(&b, binary.LittleEndian, dyn)
	return b.Bytes()
}

func TestReadELFMalformed(t *testing.T) {
	good := miniELF("/lib/ld.so", []string{"libc.so.6", "libm.so.6"}, "$ORIGIN/../lib:/opt/x")
	info, err := readELF(bytes.NewReader(good), int64(len(good)))
	if err != nil || info.Interp != "/lib/ld.so" || strings.Join(info.Needed, ",") != "libc.so.6,libm.so.6" || strings.Join(info.RunPath, ",") != "$ORIGIN/../lib,/opt/x" {
		t.Fatalf("mini ELF: %+v %v", info, err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"truncated header":   good[:40],
		"phdrs past the end": good[:100],
		"bad phentsize":      mut(func(b []byte) []byte { b[54] = 40; return b }),
		"huge phnum":         mut(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[56:], 0xffff); return b }),
		"interp not NUL-terminated": mut(func(b []byte) []byte {
			off := 64 + 3*56 + len("/lib/ld.so")
			b[off] = 'x'
			return b
		}),
		"interp offset past the end": mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[64+8:], 1<<40); return b }),
		"strtab outside loads": mut(func(b []byte) []byte {
			// DT_STRTAB value (first dyn entries: 2 NEEDED, 1 RUNPATH, then STRTAB)
			dynOff := len(b) - 6*16
			binary.LittleEndian.PutUint64(b[dynOff+3*16+8:], 0xdead0000)
			return b
		}),
		"needed offset outside strsz": mut(func(b []byte) []byte {
			dynOff := len(b) - 6*16
			binary.LittleEndian.PutUint64(b[dynOff+8:], 1<<20)
			return b
		}),
		"bad class": mut(func(b []byte) []byte { b[elf.EI_CLASS] = 7; return b }),
		"bad data":  mut(func(b []byte) []byte { b[elf.EI_DATA] = 9; return b }),
	}
	for name, b := range cases {
		_, err := readELF(bytes.NewReader(b), int64(len(b)))
		var ee *ELFError
		if !errors.As(err, &ee) {
			t.Errorf("%s: %v, want an ELFError with an offset", name, err)
		}
	}
	if _, err := readELF(bytes.NewReader([]byte("#!/bin/sh\n")), 10); !errors.Is(err, ErrNotELF) {
		t.Errorf("script: %v", err)
	}
}

func FuzzParseShebang(f *testing.F) {
	for _, s := range []string{"#!/bin/sh\n", "#! /usr/bin/env python3 -u\n", "#!/bin/sh\r\n", "#!\n", "#!" + strings.Repeat("a", 300), "#!/bin/sh\x00x y\n", "#!/a b\tc\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, ok, err := parseShebang(b)
		if !ok || err != nil {
			return
		}
		if sb.Interp == "" || strings.ContainsAny(sb.Interp, " \t\x00") || len(sb.Interp) > binprmBufSize-3 {
			t.Fatalf("bad interpreter %q from %q", sb.Interp, b)
		}
		if strings.ContainsRune(sb.Arg, 0) || len(sb.Arg) > binprmBufSize {
			t.Fatalf("bad argument %q", sb.Arg)
		}
		if !bytes.HasPrefix(b, []byte("#!")) {
			t.Fatalf("script without #!: %q", b)
		}
	})
}

func FuzzReadELF(f *testing.F) {
	f.Add(miniELF("/lib/ld.so", []string{"libc.so.6"}, "$ORIGIN"))
	f.Add(miniELF("/lib64/ld-linux-x86-64.so.2", nil, ""))
	f.Add([]byte("\x7fELF\x01\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := readELF(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			var ee *ELFError
			if !errors.Is(err, ErrNotELF) && !errors.As(err, &ee) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if len(info.Interp) > maxInterpBytes || len(info.Needed) > maxNeeded {
			t.Fatalf("bounds exceeded: %d, %d", len(info.Interp), len(info.Needed))
		}
		for _, n := range info.Needed {
			if n == "" || len(n) > maxDynString {
				t.Fatalf("bad DT_NEEDED %q", n)
			}
		}
	})
}
