package preflight

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPath is used when process.env has no PATH (crun's default; runc
// would fail to find a bare command name then).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Bounds for ld.so.conf parsing.
const (
	maxConfFiles = 64
	maxConfBytes = 64 << 10
	maxConfDirs  = 256
	maxConfDepth = 8
)

// chainer follows what the container's first execve loads: the program
// found through PATH, the "#!" interpreters, the ELF interpreter and the
// libraries that interpreter maps (ld.so's search order approximated from
// DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.conf and the default
// directories). Libraries loaded later with dlopen are not seen.
type chainer struct {
	root   *rootFS
	judge  *judge
	id     *identity
	spec   *specs.Spec
	mounts []string
	max    int

	cwd   string
	env   map[string]string
	notes []string
	// gaps say which parts of the chain were not followed (a limit, a
	// binfmt_misc program): the chain is then not judged in full.
	gaps []string
	out  []FileResult
	seen map[[2]uint64]int // dev, ino -> index in out

	confDirs []string
	confRead bool
}

func (c *chainer) note(format string, a ...any) { c.notes = append(c.notes, fmt.Sprintf(format, a...)) }

// gap notes a part of the chain that was not followed.
func (c *chainer) gap(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	c.notes = append(c.notes, msg)
	c.gaps = append(c.gaps, msg)
}

func (c *chainer) run() []FileResult {
	c.seen = map[[2]uint64]int{}
	p := c.spec.Process
	c.cwd = cleanAbs(p.Cwd)
	c.env = map[string]string{}
	for _, kv := range p.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			c.env[k] = v // the last definition wins, as with os.Setenv in runc's init
		}
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		c.gap("process.args is empty: no entrypoint to check")
		return c.out
	}
	r, err := c.lookPath(p.Args[0])
	if err != nil {
		c.out = append(c.out, FileResult{Path: p.Args[0], Role: RoleEntrypoint, Verdict: Undecidable, Reason: err.Error()})
		return c.out
	}
	c.exec(r, RoleEntrypoint, 0)
	return c.out
}

func cleanAbs(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + p)
}

// lookPath finds process.args[0] as the runtime does (exec.LookPath in
// runc's init, with the container's environment): a name with a slash is
// a path (relative to process.cwd), otherwise the first PATH entry holding a
// regular file with an execute bit.
func (c *chainer) lookPath(name string) (*resolved, error) {
	if strings.Contains(name, "/") {
		r, err := c.root.resolve(name, c.cwd)
		if err != nil {
			return nil, fmt.Errorf("entrypoint %s: %v", name, err)
		}
		return r, nil
	}
	pathVar, ok := c.env["PATH"]
	if !ok {
		pathVar = defaultPath
		c.note("process.env has no PATH; searched %s", defaultPath)
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		r, err := c.root.resolve(path.Join(dir, name), c.cwd)
		if err != nil {
			continue
		}
		if r.Stat.Mode&0o111 != 0 {
			return r, nil
		}
		r.File.Close()
	}
	return nil, fmt.Errorf("entrypoint %q not found in PATH=%s inside the rootfs (the container would fail to start)", name, pathVar)
}

// add judges a chain file for uses and records it, merging with an earlier
// entry for the same inode (a program that is also an interpreter, ...).
// It closes r.File.
func (c *chainer) add(r *resolved, role string, uses []use, neededBy string) {
	defer r.File.Close()
	if m := shadowedBy(c.mounts, r.Path); m != "" {
		c.out = append(c.out, FileResult{Path: r.Path, Role: role, Verdict: Undecidable,
			Reason: "config.json mounts " + m + " over it: the container sees the mounted file, not the rootfs one"})
		return
	}
	t := &target{path: r.Path, f: r.File, st: r.Stat}
	key := [2]uint64{uint64(r.Stat.Dev), r.Stat.Ino}
	res := c.judge.judgeFile(t, uses, c.id)
	res.Role, res.NeededBy = role, neededBy
	if i, ok := c.seen[key]; ok {
		prev := &c.out[i]
		if !strings.Contains(","+prev.Role+",", ","+role+",") {
			prev.Role += "," + role
		}
		prev.Accesses = mergeAccesses(prev.Accesses, res.Accesses)
		prev.Verdict, prev.Cause, prev.Reason, prev.Rule = fileVerdict(prev.Accesses)
		return
	}
	c.seen[key] = len(c.out)
	c.out = append(c.out, res)
}

func mergeAccesses(a, b []AccessResult) []AccessResult {
	for _, x := range b {
		dup := false
		for _, y := range a {
			if x.Func == y.Func && x.Mask == y.Mask && x.Verdict == y.Verdict {
				dup = true
				break
			}
		}
		if !dup {
			a = append(a, x)
		}
	}
	return a
}

func (c *chainer) full() bool {
	if len(c.out) >= c.max {
		if len(c.gaps) == 0 || !strings.Contains(c.gaps[len(c.gaps)-1], "max_chain") {
			c.gap("the entrypoint chain has more than %d files (limit max_chain); the rest was not checked", c.max)
		}
		return true
	}
	return false
}

// exec follows one execve of r: the file is opened for exec, checked by
// BPRM_CHECK with the caller's credentials and CREDS_CHECK with the new
// ones; then binfmt_script or binfmt_elf takes over.
func (c *chainer) exec(r *resolved, role string, depth int) {
	if c.full() || c.judge.ctx.Err() != nil {
		r.File.Close()
		return
	}
	pre := c.id.proc
	post := c.id.afterExec(uint32(r.Stat.Mode), r.Stat.Uid, r.Stat.Gid)
	uses := []use{{accOpenExec, &pre}, {accBprm, &pre}, {accCreds, &post}}
	head := readHead(r.File, binprmBufSize)
	sb, isScript, sbErr := parseShebang(head)
	var info *elfInfo
	var elfErr error
	if !isScript {
		info, elfErr = readELF(r.File, r.Stat.Size)
		if elfErr == nil {
			// binfmt_elf maps the program's segments after the point of no
			// return: MMAP_CHECK with the new credentials.
			uses = append(uses, c.judge.mmapUses(&post)...)
		}
	}
	progPath := r.Path
	c.add(r, role, uses, "")
	switch {
	case isScript && sbErr != nil:
		c.note("%s: the kernel refuses the script (ENOEXEC): %v", progPath, sbErr)
	case isScript:
		if depth+1 > maxInterpDepth {
			c.note("%s: more than %d nested interpreters (the kernel fails with ELOOP)", progPath, maxInterpDepth)
			return
		}
		ir, err := c.root.resolve(sb.Interp, c.cwd)
		if err != nil {
			c.out = append(c.out, FileResult{Path: sb.Interp, Role: RoleInterpreter, Verdict: Undecidable,
				Reason: fmt.Sprintf("interpreter of %s not found in the rootfs: %v (the exec would fail with ENOENT)", progPath, err)})
			return
		}
		// The interpreter then opens the script to read it.
		ipost := c.id.afterExec(uint32(ir.Stat.Mode), ir.Stat.Uid, ir.Stat.Gid)
		c.exec(ir, RoleInterpreter, depth+1)
		if sr, err := c.root.resolve(progPath, "/"); err == nil {
			c.add(sr, role, []use{{accRead, &ipost}}, "")
		}
	case errors.Is(elfErr, ErrNotELF):
		c.gap("%s is neither an ELF program nor a #! script: only a binfmt_misc handler could run it, which is not followed", progPath)
	case elfErr != nil:
		c.note("%s: the kernel would refuse the ELF file (ENOEXEC): %v", progPath, elfErr)
	default:
		c.elf(info, progPath, &pre, &post)
	}
}

// elf follows binfmt_elf: the ELF interpreter is opened with open_exec
// (FILE_CHECK MAY_EXEC, the caller's credentials) and mapped (MMAP_CHECK,
// the new credentials); it then maps the DT_NEEDED libraries.
func (c *chainer) elf(prog *elfInfo, progPath string, pre, post *creds) {
	if prog.Interp == "" {
		if len(prog.Needed) > 0 {
			c.note("%s has DT_NEEDED entries but no PT_INTERP: nothing loads them", progPath)
		}
		return
	}
	if c.full() {
		return
	}
	lr, err := c.root.resolve(prog.Interp, c.cwd)
	if err != nil {
		c.out = append(c.out, FileResult{Path: prog.Interp, Role: RoleLoader, Verdict: Undecidable, NeededBy: progPath,
			Reason: fmt.Sprintf("ELF interpreter not found in the rootfs: %v (the exec would fail with ENOENT)", err)})
		return
	}
	loaderPath := lr.Path
	_, lerr := readELF(lr.File, lr.Stat.Size)
	uses := append([]use{{accOpenExec, pre}}, c.judge.mmapUses(post)...)
	c.add(lr, RoleLoader, uses, progPath)
	if lerr != nil {
		c.note("%s: the ELF interpreter is not a usable ELF file: %v", loaderPath, lerr)
		return
	}
	c.libraries(prog, progPath, loaderPath, post)
}

type loaded struct {
	info *elfInfo
	path string
}

// libraries walks DT_NEEDED breadth-first as ld.so does (_dl_map_object_deps).
func (c *chainer) libraries(prog *elfInfo, progPath, loaderPath string, post *creds) {
	musl := strings.Contains(path.Base(loaderPath), "ld-musl")
	// Secure mode (AT_SECURE, set-id exec): LD_LIBRARY_PATH is ignored.
	secure := post.known && (post.euid != c.id.proc.euid || post.egid != c.id.proc.egid)
	queue := []loaded{{prog, progPath}}
	byName := map[string]bool{}
	for len(queue) > 0 {
		obj := queue[0]
		queue = queue[1:]
		for _, name := range obj.info.Needed {
			if byName[name] {
				continue
			}
			byName[name] = true
			if c.full() || c.judge.ctx.Err() != nil {
				return
			}
			r, info, why := c.findLib(name, obj, loaded{prog, progPath}, musl, secure, loaderPath)
			if r == nil {
				c.out = append(c.out, FileResult{Path: name, Role: RoleLibrary, NeededBy: obj.path, Verdict: Undecidable, Reason: why})
				continue
			}
			key := [2]uint64{uint64(r.Stat.Dev), r.Stat.Ino}
			if _, dup := c.seen[key]; dup && r.Path == loaderPath {
				r.File.Close()
				continue // libc's DT_NEEDED on ld.so: already loaded
			}
			c.add(r, RoleLibrary, []use{{accRead, post}, {accMmap, post}}, obj.path)
			if c.judge.reqprot {
				// The loader maps its segments with PROT_EXEC requested.
				c.out[c.seen[key]].Accesses = mergeAccesses(c.out[c.seen[key]].Accesses, c.reqprotOnly(r, post))
			}
			queue = append(queue, loaded{info, r.Path})
		}
	}
}

func (c *chainer) reqprotOnly(r *resolved, post *creds) []AccessResult {
	nr, err := c.root.resolve(r.Path, "/")
	if err != nil {
		return nil
	}
	defer nr.File.Close()
	t := &target{path: nr.Path, f: nr.File, st: nr.Stat}
	res := c.judge.judgeFile(t, []use{{accMmapReq, post}}, c.id)
	return res.Accesses
}

// findLib looks a DT_NEEDED name up the way the loader would. It returns
// the opened library and its ELF info, or nil and why not.
func (c *chainer) findLib(name string, obj, prog loaded, musl, secure bool, loaderPath string) (*resolved, *elfInfo, string) {
	try := func(p string) (*resolved, *elfInfo, bool) {
		r, err := c.root.resolve(p, c.cwd)
		if err != nil {
			return nil, nil, false
		}
		info, err := readELF(r.File, r.Stat.Size)
		if err != nil || !info.compatible(prog.info) {
			r.File.Close() // ld.so skips files of another class or machine
			return nil, nil, false
		}
		return r, info, true
	}
	if strings.Contains(name, "/") {
		if r, info, ok := try(name); ok {
			return r, info, ""
		}
		return nil, nil, fmt.Sprintf("library %s needed by %s not found (the loader would fail)", name, obj.path)
	}
	dirs := c.searchDirs(obj, prog, musl, secure, loaderPath)
	for _, d := range dirs {
		if m := shadowedBy(c.mounts, path.Join(cleanAbs(d), name)); m != "" && strings.HasPrefix(d, "/") {
			return nil, nil, fmt.Sprintf("library %s needed by %s is searched in %s, which config.json mounts over (%s): not examined", name, obj.path, d, m)
		}
		if r, info, ok := try(path.Join(d, name)); ok {
			return r, info, ""
		}
	}
	return nil, nil, fmt.Sprintf("library %s needed by %s not found in %s (the loader would fail, unless a mount provides it)", name, obj.path, strings.Join(dirs, ":"))
}

func (c *chainer) searchDirs(obj, prog loaded, musl, secure bool, loaderPath string) []string {
	var dirs []string
	ldPath := func() {
		if v, ok := c.env["LD_LIBRARY_PATH"]; ok && !secure {
			dirs = append(dirs, strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ';' })...)
		}
	}
	if musl {
		// musl: LD_LIBRARY_PATH, the object's DT_RUNPATH (else DT_RPATH),
		// then /etc/ld-musl-ARCH.path or its default.
		ldPath()
		rp := obj.info.RunPath
		if len(rp) == 0 {
			rp = obj.info.RPath
		}
		dirs = append(dirs, c.expand(rp, obj)...)
		arch := strings.TrimSuffix(strings.TrimPrefix(path.Base(loaderPath), "ld-musl-"), ".so.1")
		if conf := c.readSmall("/etc/ld-musl-" + arch + ".path"); conf != nil {
			dirs = append(dirs, strings.FieldsFunc(string(conf), func(r rune) bool { return r == ':' || r == '\n' })...)
		} else {
			dirs = append(dirs, "/lib", "/usr/local/lib", "/usr/lib")
		}
		return dirs
	}
	// glibc (_dl_map_object): DT_RPATH of the object and of the program
	// (only while no DT_RUNPATH is present), LD_LIBRARY_PATH, DT_RUNPATH,
	// the ld.so cache (approximated by the ld.so.conf directories), then
	// the default directories.
	if len(obj.info.RunPath) == 0 {
		dirs = append(dirs, c.expand(obj.info.RPath, obj)...)
		if obj.path != prog.path && len(prog.info.RunPath) == 0 {
			dirs = append(dirs, c.expand(prog.info.RPath, prog)...)
		}
	}
	ldPath()
	dirs = append(dirs, c.expand(obj.info.RunPath, obj)...)
	dirs = append(dirs, c.ldSoConf()...)
	dirs = append(dirs, defaultLibDirs(prog.info)...)
	return dirs
}

// expand substitutes $ORIGIN (the object's directory), $LIB and $PLATFORM
// in DT_RPATH/DT_RUNPATH entries.
func (c *chainer) expand(dirs []string, obj loaded) []string {
	var out []string
	lib, platform := "lib", ""
	if obj.info.Class == elf.ELFCLASS64 {
		lib = "lib64"
	}
	switch obj.info.Machine {
	case elf.EM_X86_64:
		platform = "x86_64"
	case elf.EM_AARCH64:
		platform = "aarch64"
	}
	for _, d := range dirs {
		d = strings.NewReplacer("${ORIGIN}", path.Dir(obj.path), "$ORIGIN", path.Dir(obj.path),
			"${LIB}", lib, "$LIB", lib, "${PLATFORM}", platform, "$PLATFORM", platform).Replace(d)
		out = append(out, d)
	}
	return out
}

// multiarch names Debian's library directory triplet for a machine.
func multiarch(info *elfInfo) string {
	switch info.Machine {
	case elf.EM_X86_64:
		return "x86_64-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_386:
		return "i386-linux-gnu"
	case elf.EM_ARM:
		return "arm-linux-gnueabihf"
	case elf.EM_PPC64:
		return "powerpc64le-linux-gnu"
	case elf.EM_S390:
		return "s390x-linux-gnu"
	case elf.EM_RISCV:
		return "riscv64-linux-gnu"
	}
	return ""
}

func defaultLibDirs(info *elfInfo) []string {
	var dirs []string
	if t := multiarch(info); t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if info.Class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// readSmall reads a small config file of the rootfs, nil if absent.
func (c *chainer) readSmall(p string) []byte {
	r, err := c.root.resolve(p, "/")
	if err != nil {
		return nil
	}
	defer r.File.Close()
	if r.Stat.Size > maxConfBytes {
		c.note("%s is larger than %d bytes; ignored", p, maxConfBytes)
		return nil
	}
	b := make([]byte, r.Stat.Size)
	n, _ := r.File.ReadAt(b, 0)
	return b[:n]
}

// ldSoConf returns the directories of /etc/ld.so.conf and its includes, the
// input ldconfig builds /etc/ld.so.cache from.
func (c *chainer) ldSoConf() []string {
	if c.confRead {
		return c.confDirs
	}
	c.confRead = true
	files := 0
	seen := map[string]bool{}
	var parse func(p string, depth int)
	parse = func(p string, depth int) {
		if depth > maxConfDepth || files >= maxConfFiles || seen[p] {
			return
		}
		seen[p] = true
		files++
		data := c.readSmall(p)
		for _, line := range strings.Split(string(data), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			switch fields[0] {
			case "include":
				for _, pat := range fields[1:] {
					if !strings.HasPrefix(pat, "/") {
						pat = path.Join(path.Dir(p), pat)
					}
					for _, m := range c.glob(pat) {
						parse(m, depth+1)
					}
				}
			case "hwcap":
			default:
				for _, f := range fields {
					for _, d := range strings.FieldsFunc(f, func(r rune) bool { return r == ':' || r == ',' }) {
						if len(c.confDirs) < maxConfDirs {
							c.confDirs = append(c.confDirs, d)
						}
					}
				}
			}
		}
	}
	parse("/etc/ld.so.conf", 0)
	return c.confDirs
}

// glob expands a pattern whose wildcards are in the last component only
// (what ld.so.conf includes use), inside the rootfs.
func (c *chainer) glob(pat string) []string {
	dir, base := path.Split(pat)
	if !strings.ContainsAny(base, "*?[") {
		return []string{pat}
	}
	names, err := c.root.readDirNames(dir, 4096)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var out []string
	for _, n := range names {
		if ok, _ := path.Match(base, n); ok {
			out = append(out, path.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out
}
