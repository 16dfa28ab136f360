package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds for the ELF reader. The kernel itself reads at most 64 KiB of
// program headers (load_elf_phdrs) and an interpreter path of at most
// PATH_MAX; the dynamic section bounds are generous for real objects
// (glibc's libc.so.6 has ~40 dynamic entries, big C++ programs a few hundred
// DT_NEEDED at most).
const (
	maxPhdrBytes   = 64 << 10
	maxInterpBytes = 4096
	maxDynBytes    = 1 << 20
	maxDynString   = 4096
	maxNeeded      = 1024
)

// elfInfo is what execve and the dynamic loader read from an ELF file:
// its identity (class, byte order, machine, type), the program
// interpreter, and the dynamic entries that steer the library search.
type elfInfo struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	Type    elf.Type
	Interp  string   // PT_INTERP, "" for static programs and libraries
	Needed  []string // DT_NEEDED in order
	RPath   []string // DT_RPATH, split at ':'
	RunPath []string // DT_RUNPATH, split at ':'
	Dynamic bool     // has PT_DYNAMIC
}

// ErrNotELF is returned for files that do not start with the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

// ELFError is a malformed ELF file, with the byte offset at fault.
type ELFError struct {
	Offset int64
	Msg    string
}

func (e *ELFError) Error() string { return fmt.Sprintf("ELF byte %d: %s", e.Offset, e.Msg) }

func elfErr(off int64, format string, a ...any) error {
	return &ELFError{Offset: off, Msg: fmt.Sprintf(format, a...)}
}

// prog is a program header, class-independent.
type prog struct {
	typ                    elf.ProgType
	off, vaddr, filesz, at uint64 // at: the header's own offset, for messages
}

// readELF parses the ELF header, the program headers, PT_INTERP and
// PT_DYNAMIC of r (size bytes) the way the kernel's load_elf_binary and
// the dynamic loader use them: through the program headers only. Section
// headers are ignored, so stripped (sstrip'ed) objects read as the loader
// sees them. Types and constants come from debug/elf; the reading is
// bounded and never trusts an offset or count.
func readELF(r io.ReaderAt, size int64) (*elfInfo, error) {
	var ident [elf.EI_NIDENT]byte
	if n, _ := r.ReadAt(ident[:], 0); n < len(ident) || !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return nil, ErrNotELF
	}
	info := &elfInfo{Class: elf.Class(ident[elf.EI_CLASS]), Data: elf.Data(ident[elf.EI_DATA])}
	var bo binary.ByteOrder
	switch info.Data {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return nil, elfErr(elf.EI_DATA, "unknown byte order %d", ident[elf.EI_DATA])
	}
	var phoff uint64
	var phentsize, phnum uint16
	var wantEnt int
	switch info.Class {
	case elf.ELFCLASS64:
		var h elf.Header64
		if err := binary.Read(io.NewSectionReader(r, 0, size), bo, &h); err != nil {
			return nil, elfErr(0, "short ELF header")
		}
		info.Type, info.Machine = elf.Type(h.Type), elf.Machine(h.Machine)
		phoff, phentsize, phnum = h.Phoff, h.Phentsize, h.Phnum
		wantEnt = binary.Size(elf.Prog64{})
	case elf.ELFCLASS32:
		var h elf.Header32
		if err := binary.Read(io.NewSectionReader(r, 0, size), bo, &h); err != nil {
			return nil, elfErr(0, "short ELF header")
		}
		info.Type, info.Machine = elf.Type(h.Type), elf.Machine(h.Machine)
		phoff, phentsize, phnum = uint64(h.Phoff), h.Phentsize, h.Phnum
		wantEnt = binary.Size(elf.Prog32{})
	default:
		return nil, elfErr(elf.EI_CLASS, "unknown ELF class %d", ident[elf.EI_CLASS])
	}
	if info.Type != elf.ET_EXEC && info.Type != elf.ET_DYN {
		// Relocatable objects, core files: nothing execve or ld.so loads.
		return info, nil
	}
	if phnum == 0 {
		return info, nil
	}
	if int(phentsize) != wantEnt {
		return nil, elfErr(0, "program header entry size %d, want %d", phentsize, wantEnt)
	}
	total := uint64(phnum) * uint64(phentsize)
	if total > maxPhdrBytes {
		return nil, elfErr(0, "%d program headers (%d bytes) exceed %d bytes", phnum, total, maxPhdrBytes)
	}
	if phoff > uint64(size) || total > uint64(size)-phoff {
		return nil, elfErr(int64(min(phoff, uint64(size))), "program headers (%d bytes at %d) run past the end of the file (%d bytes)", total, phoff, size)
	}
	raw := make([]byte, total)
	if _, err := r.ReadAt(raw, int64(phoff)); err != nil {
		return nil, elfErr(int64(phoff), "reading program headers: %v", err)
	}
	progs := make([]prog, phnum)
	for i := range progs {
		b := raw[i*int(phentsize):]
		at := phoff + uint64(i)*uint64(phentsize)
		if info.Class == elf.ELFCLASS64 {
			progs[i] = prog{typ: elf.ProgType(bo.Uint32(b[0:])), off: bo.Uint64(b[8:]), vaddr: bo.Uint64(b[16:]), filesz: bo.Uint64(b[32:]), at: at}
		} else {
			progs[i] = prog{typ: elf.ProgType(bo.Uint32(b[0:])), off: uint64(bo.Uint32(b[4:])), vaddr: uint64(bo.Uint32(b[8:])), filesz: uint64(bo.Uint32(b[16:])), at: at}
		}
	}
	var dyn *prog
	for i := range progs {
		p := &progs[i]
		switch p.typ {
		case elf.PT_INTERP:
			if info.Interp != "" {
				continue // load_elf_binary takes the first PT_INTERP
			}
			// load_elf_binary: 2 <= p_filesz <= PATH_MAX and NUL-terminated,
			// else ENOEXEC.
			if p.filesz < 2 || p.filesz > maxInterpBytes {
				return nil, elfErr(int64(p.at), "PT_INTERP of %d bytes (the kernel takes 2..%d)", p.filesz, maxInterpBytes)
			}
			b, err := readRange(r, size, p.off, p.filesz)
			if err != nil {
				return nil, elfErr(int64(p.at), "PT_INTERP: %v", err)
			}
			if b[len(b)-1] != 0 {
				return nil, elfErr(int64(p.off+p.filesz-1), "PT_INTERP is not NUL-terminated")
			}
			info.Interp = cstr(b)
			if info.Interp == "" {
				return nil, elfErr(int64(p.off), "empty PT_INTERP")
			}
		case elf.PT_DYNAMIC:
			if dyn == nil {
				dyn = p
			}
		}
	}
	if dyn != nil {
		info.Dynamic = true
		if err := readDynamic(r, size, bo, info, dyn, progs); err != nil {
			return nil, err
		}
	}
	return info, nil
}

func readRange(r io.ReaderAt, size int64, off, n uint64) ([]byte, error) {
	if off > uint64(size) || n > uint64(size)-off {
		return nil, fmt.Errorf("%d bytes at %d run past the end of the file (%d bytes)", n, off, size)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(off)); err != nil {
		return nil, err
	}
	return b, nil
}

// readDynamic reads DT_NEEDED, DT_RPATH and DT_RUNPATH from PT_DYNAMIC;
// DT_STRTAB is a virtual address, turned into a file offset through the
// PT_LOAD segment that maps it, as the loader sees the string table.
func readDynamic(r io.ReaderAt, size int64, bo binary.ByteOrder, info *elfInfo, dyn *prog, progs []prog) error {
	n := dyn.filesz
	if n > maxDynBytes {
		return elfErr(int64(dyn.at), "PT_DYNAMIC of %d bytes exceeds %d", n, maxDynBytes)
	}
	b, err := readRange(r, size, dyn.off, n)
	if err != nil {
		return elfErr(int64(dyn.at), "PT_DYNAMIC: %v", err)
	}
	ent := 16
	if info.Class == elf.ELFCLASS32 {
		ent = 8
	}
	var strtab, strsz uint64
	var haveStrtab bool
	type ref struct {
		tag elf.DynTag
		val uint64
		at  int64
	}
	var refs []ref
	for i := 0; i+ent <= len(b); i += ent {
		var tag, val uint64
		if ent == 16 {
			tag, val = bo.Uint64(b[i:]), bo.Uint64(b[i+8:])
		} else {
			tag, val = uint64(bo.Uint32(b[i:])), uint64(bo.Uint32(b[i+4:]))
		}
		at := int64(dyn.off) + int64(i)
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			i = len(b) // end of the dynamic array
		case elf.DT_STRTAB:
			strtab, haveStrtab = val, true
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_NEEDED, elf.DT_RPATH, elf.DT_RUNPATH:
			if len(refs) >= maxNeeded {
				return elfErr(at, "more than %d DT_NEEDED/DT_RPATH/DT_RUNPATH entries", maxNeeded)
			}
			refs = append(refs, ref{elf.DynTag(tag), val, at})
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if !haveStrtab {
		return elfErr(int64(dyn.at), "PT_DYNAMIC has DT_NEEDED but no DT_STRTAB")
	}
	strOff, ok := vaddrToOffset(progs, strtab)
	if !ok {
		return elfErr(int64(dyn.at), "DT_STRTAB address 0x%x is in no PT_LOAD segment", strtab)
	}
	for _, rf := range refs {
		if strsz != 0 && rf.val >= strsz {
			return elfErr(rf.at, "%s string offset %d outside DT_STRSZ %d", rf.tag, rf.val, strsz)
		}
		s, err := readCString(r, size, strOff+rf.val)
		if err != nil {
			return elfErr(rf.at, "%s: %v", rf.tag, err)
		}
		switch rf.tag {
		case elf.DT_NEEDED:
			if s == "" {
				return elfErr(rf.at, "empty DT_NEEDED name")
			}
			info.Needed = append(info.Needed, s)
		case elf.DT_RPATH:
			info.RPath = append(info.RPath, splitPath(s)...)
		case elf.DT_RUNPATH:
			info.RunPath = append(info.RunPath, splitPath(s)...)
		}
	}
	return nil
}

func vaddrToOffset(progs []prog, v uint64) (uint64, bool) {
	for _, p := range progs {
		if p.typ == elf.PT_LOAD && v >= p.vaddr && v-p.vaddr < p.filesz {
			off := p.off + (v - p.vaddr)
			if off < p.off { // overflow
				return 0, false
			}
			return off, true
		}
	}
	return 0, false
}

func readCString(r io.ReaderAt, size int64, off uint64) (string, error) {
	if off >= uint64(size) {
		return "", fmt.Errorf("string at %d is past the end of the file (%d bytes)", off, size)
	}
	n := min(uint64(maxDynString), uint64(size)-off)
	b := make([]byte, n)
	m, err := r.ReadAt(b, int64(off))
	if m == 0 && err != nil {
		return "", err
	}
	b = b[:m]
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", fmt.Errorf("string at %d has no NUL within %d bytes", off, len(b))
	}
	return string(b[:i]), nil
}

func splitPath(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// compatible reports whether ld.so would load a library with this
// identity for a program with p's: same class, byte order and machine
// (elf_machine_matches_host and the class check in open_verify).
func (e *elfInfo) compatible(p *elfInfo) bool {
	return e.Class == p.Class && e.Data == p.Data && e.Machine == p.Machine
}
