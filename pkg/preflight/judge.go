package preflight

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/keys"
)

// errBudget: the byte budget for hashing is used up.
var errBudget = errors.New("hashing budget exhausted")

// judge decides appraisal outcomes. It is shared by the chain analysis and
// the walk's workers; content checks are cached per inode so a file reached
// through several hard links, or both on the chain and in the walk, is
// hashed once.
type judge struct {
	ctx      context.Context
	rules    []*compiledRule
	certs    []*keys.Certificate
	fs       fsFacts
	maxBytes int64
	reqprot  bool // some rule names MMAP_CHECK_REQPROT

	bytes  atomic.Int64
	hashed atomic.Int64
	cache  sync.Map // inodeKey -> *contentResult
	strs   sync.Map // interned strings
	nstrs  atomic.Int64
}

func newJudge(ctx context.Context, rules []*compiledRule, certs []*keys.Certificate, fs FSInfo, lim Limits) *judge {
	j := &judge{ctx: ctx, rules: rules, certs: certs, maxBytes: lim.MaxBytes,
		fs: fsFacts{magic: fs.Magic, magicKnown: true, name: fs.Name, uuid: fs.UUID}}
	for _, r := range rules {
		if r.fn == "MMAP_CHECK_REQPROT" {
			j.reqprot = true
		}
	}
	return j
}

func (j *judge) stats() (int, int64) { return int(j.hashed.Load()), j.bytes.Load() }

type inodeKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

// contentResult is keys.Appraise's answer for one inode without the
// signature requirement (which depends on the rule, not the content).
type contentResult struct {
	once sync.Once
	err  error
}

// target is one open regular file being judged.
type target struct {
	path string
	f    *os.File
	st   unix.Stat_t

	xDone bool
	x     keys.Xattr
	xErr  error

	modsig int // 0 not looked at, 1 has an appended signature, 2 has none
}

func (t *target) xattr() (keys.Xattr, error) {
	if !t.xDone {
		t.xDone = true
		raw, err := readIMAXattr(t.f)
		if err != nil {
			t.xErr = err
		} else {
			t.x, t.xErr = keys.DecodeIMAXattr(raw)
		}
	}
	return t.x, t.xErr
}

var xattrBufs = sync.Pool{New: func() any { b := make([]byte, 1024); return &b }}

// readIMAXattr is keys.ReadIMAXattrFile through a pooled buffer: the value
// is copied out at its exact length, so a walk over 100k files does not
// leave 100k kilobyte buffers to the garbage collector.
func readIMAXattr(f *os.File) ([]byte, error) {
	bp := xattrBufs.Get().(*[]byte)
	defer xattrBufs.Put(bp)
	n, err := unix.Fgetxattr(int(f.Fd()), keys.XattrName, *bp)
	if errors.Is(err, unix.ERANGE) {
		return keys.ReadIMAXattrFile(f) // values above 1 KiB: RSA-8192, future forms
	}
	switch {
	case errors.Is(err, unix.ENODATA):
		return nil, keys.ErrNoXattr
	case err != nil:
		return nil, &os.PathError{Op: "fgetxattr " + keys.XattrName, Path: f.Name(), Err: err}
	}
	return append([]byte(nil), (*bp)[:n]...), nil
}

// modsigMagic ends a file with an appended signature (MODULE_SIG_STRING).
const modsigMagic = "~Module signature appended~\n"

func (t *target) hasModsig() bool {
	if t.modsig == 0 {
		t.modsig = 2
		if t.st.Size >= int64(len(modsigMagic)) {
			b := make([]byte, len(modsigMagic))
			if _, err := t.f.ReadAt(b, t.st.Size-int64(len(b))); err == nil && string(b) == modsigMagic {
				t.modsig = 1
			}
		}
	}
	return t.modsig == 1
}

// content runs keys.Appraise on the file once per inode.
func (j *judge) content(t *target) error {
	key := inodeKey{dev: uint64(t.st.Dev), ino: t.st.Ino, size: t.st.Size,
		mtime: t.st.Mtim.Nano(), ctime: t.st.Ctim.Nano()}
	v, _ := j.cache.LoadOrStore(key, &contentResult{})
	cr := v.(*contentResult)
	cr.once.Do(func() { cr.err = j.appraise(t) })
	return cr.err
}

func (j *judge) appraise(t *target) error {
	x, _ := t.xattr()
	needsHash := x.IsHash() || (x.Type == keys.XattrDigsig && x.SigVersion == 2 && anyKeyMatches(j.certs, x.KeyID))
	if needsHash {
		// Reserve the whole file against the byte budget before reading,
		// so the budget holds however the reads are split.
		if j.bytes.Add(t.st.Size) > j.maxBytes {
			j.bytes.Add(-t.st.Size)
			return errBudget
		}
		j.hashed.Add(1)
	}
	keys.AdviseSequential(t.f)
	return keys.Appraise(x, &ctxReader{ctx: j.ctx, r: io.NewSectionReader(t.f, 0, 1<<62)}, j.certs, false)
}

func anyKeyMatches(certs []*keys.Certificate, id uint32) bool {
	for _, c := range certs {
		if c != nil && c.KernelMatches(id) {
			return true
		}
	}
	return false
}

// ctxReader stops a long hash when the time budget runs out.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// outcome is the verdict under one candidate rule.
type outcome struct {
	v             Verdict
	cause, reason string
}

// outcome judges the file under rule c (nil: no rule applies), the way
// ima_appraise_measurement and xattr_verify would.
func (j *judge) outcome(t *target, c *compiledRule) outcome {
	if c == nil {
		return outcome{v: NotAppraised, reason: "no appraise rule applies"}
	}
	if c.action == "dont_appraise" {
		return outcome{v: NotAppraised, reason: "dont_appraise"}
	}
	x, err := t.xattr()
	switch {
	case errors.Is(err, keys.ErrNoXattr):
		if c.modsig && t.hasModsig() {
			return outcome{Undecidable, "", "no security.ima but an appended signature (modsig), which is not checked statically"}
		}
		return outcome{Refused, CauseNoXattr, "no security.ima"}
	case errors.Is(err, keys.ErrMalformed):
		return outcome{Refused, CauseMalformed, "malformed security.ima: " + err.Error()}
	case errors.Is(err, keys.ErrUnsupported):
		switch x.Type {
		case keys.XattrDigest, keys.XattrDigestNG, keys.XattrDigsig, keys.XattrVerityDigsig:
			return outcome{Undecidable, "", err.Error()}
		}
		// EVM types or an unknown first byte: xattr_verify's default case.
		return outcome{Refused, CauseUnknownData, "security.ima holds " + x.Type.String() + ", not an IMA hash or signature"}
	case err != nil:
		return outcome{Undecidable, "", "reading security.ima: " + err.Error()}
	}
	if c.verity {
		if x.Type == keys.XattrVerityDigsig {
			return outcome{Undecidable, "", "sigv3 signature over the fs-verity digest is not checked statically"}
		}
		return outcome{Refused, CauseVerityRequired, "the rule requires an fs-verity signature (digest_type=verity), security.ima holds " + x.String()}
	}
	if x.Type == keys.XattrVerityDigsig {
		if c.digsig {
			return outcome{Refused, CauseHashOnly, "sigv3 (fs-verity) signature where the rule requires an IMA signature"}
		}
		return outcome{Undecidable, "", "sigv3 (fs-verity) signature under a rule without digest_type=verity is not checked statically"}
	}
	if x.IsHash() && c.digsig {
		return outcome{Refused, CauseHashOnly, "only a " + x.HashAlgo.String() + " hash where the rule requires a signature (appraise_type=imasig)"}
	}
	if c.algos != nil && !c.algos[x.HashAlgo] {
		return outcome{Refused, CauseDeniedAlgo, x.HashAlgo.String() + " is not in the rule's appraise_algos"}
	}
	err = j.content(t)
	switch {
	case err == nil:
		if x.IsHash() {
			return outcome{v: Pass, reason: x.HashAlgo.String() + " hash matches"}
		}
		return outcome{v: Pass, reason: fmt.Sprintf("signature by key %08x verifies", x.KeyID)}
	case errors.Is(err, keys.ErrWrongHash):
		return outcome{Refused, CauseWrongHash, "content does not match the " + x.HashAlgo.String() + " hash in security.ima"}
	case errors.Is(err, keys.ErrUnknownKeyID):
		return outcome{Refused, CauseUnknownKey, fmt.Sprintf("signed by key %08x, which is not in the namespace's keyring", x.KeyID)}
	case errors.Is(err, keys.ErrBadSignature):
		return outcome{Refused, CauseBadSignature, fmt.Sprintf("signature by key %08x does not verify (content changed after signing?)", x.KeyID)}
	case errors.Is(err, keys.ErrUnsupported):
		return outcome{Undecidable, "", err.Error()}
	case errors.Is(err, errBudget):
		return outcome{Undecidable, "", "not hashed: the byte budget of the preflight is used up"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return outcome{Undecidable, "", "not hashed: the time budget ran out"}
	}
	return outcome{Undecidable, "", "reading the file: " + err.Error()}
}

// use is one access with the credentials it is made with.
type use struct {
	a  access
	cr *creds
}

// judgeFile judges every use of an open file and fills a FileResult.
func (j *judge) judgeFile(t *target, uses []use, id *identity) FileResult {
	res := FileResult{Path: t.path, Size: t.st.Size, Mode: modeNames()[t.st.Mode&0o7777], UID: t.st.Uid, GID: t.st.Gid}
	if id.userns && id.mapsKnown {
		u, _ := unmapID(id.uidMap, t.st.Uid)
		res.CtrUID = &u
	}
	facts := fileFacts{uid: t.st.Uid, gid: t.st.Gid}
	for _, u := range uses {
		cands := candidates(j.rules, u.a, facts, j.fs, u.cr)
		res.Accesses = append(res.Accesses, j.combine(t, u.a, cands))
	}
	res.Verdict, res.Cause, res.Reason, res.Rule = fileVerdict(res.Accesses)
	res.Reason = j.intern(res.Reason)
	for i := range res.Accesses {
		res.Accesses[i].Reason = j.intern(res.Accesses[i].Reason)
	}
	if t.xDone {
		switch {
		case errors.Is(t.xErr, keys.ErrNoXattr):
			res.Xattr = "none"
		case t.xErr != nil && t.x.Type == 0:
			res.Xattr = "unreadable"
		default:
			res.Xattr = t.x.String()
		}
	}
	return res
}

// ruleRef names c in a result; certain matches share one RuleRef per rule
// (a large rootfs has many results and few rules).
func ruleRef(c *compiledRule, undecided []string) *RuleRef {
	if len(undecided) == 0 && c.ref != nil {
		return c.ref
	}
	return &RuleRef{Index: c.rule.Index, Source: c.rule.Source, Line: c.rule.Line, Text: c.rule.Text, Undecided: undecided}
}

// maxInterned bounds the interned strings (reasons repeat across files;
// digests and key ids make the rest unique).
const maxInterned = 4096

// intern returns a shared copy of s, so that the same reason on 100k files
// is stored once.
func (j *judge) intern(s string) string {
	if v, ok := j.strs.Load(s); ok {
		return v.(string)
	}
	if j.nstrs.Add(1) > maxInterned {
		return s
	}
	v, _ := j.strs.LoadOrStore(s, s)
	return v.(string)
}

// modeNames are built on first use, not at init: every ima-hook process
// (hook, wrapper) would otherwise pay for 4096 Sprintf calls at start-up.
var modeNames = sync.OnceValue(func() *[0o10000]string {
	var m [0o10000]string
	for i := range m {
		m[i] = fmt.Sprintf("%04o", i)
	}
	return &m
})

// combine turns the candidates of one access into its result. With one
// certain candidate its outcome is the result; with alternatives, the
// result is certain only when every alternative agrees.
func (j *judge) combine(t *target, a access, cands []candidate) AccessResult {
	ar := AccessResult{Func: a.fn, Mask: maskName(a.mask)}
	if last := cands[len(cands)-1]; last.rule != nil {
		ar.Rule = ruleRef(last.rule, nil)
	}
	for _, c := range cands[:len(cands)-1] {
		ar.Possible = append(ar.Possible, *ruleRef(c.rule, c.undecided))
	}
	outs := make([]outcome, len(cands))
	for i, c := range cands {
		outs[i] = j.outcome(t, c.rule)
	}
	class := func(v Verdict) Verdict {
		if v == NotAppraised {
			return Pass
		}
		return v
	}
	same := true
	for _, o := range outs[1:] {
		if class(o.v) != class(outs[0].v) {
			same = false
		}
	}
	describe := func(o outcome, c candidate) string {
		s := o.reason
		if c.rule != nil {
			s += fmt.Sprintf(" (rule %d)", c.rule.rule.Index)
		}
		return s
	}
	if same {
		// The first refused (or last) outcome explains it best.
		pick := len(outs) - 1
		for i, o := range outs {
			if o.v == Refused || o.v == Undecidable || o.v == Pass {
				pick = i
				break
			}
		}
		ar.Verdict, ar.Cause, ar.Reason = outs[pick].v, outs[pick].cause, outs[pick].reason
		if cands[pick].rule != nil {
			ar.Rule = ruleRef(cands[pick].rule, cands[pick].undecided)
		}
		if class(ar.Verdict) == Pass {
			ar.Verdict = NotAppraised
			for _, o := range outs {
				if o.v == Pass {
					ar.Verdict = Pass
				}
			}
		}
		return ar
	}
	// The outcome depends on undecided conditions: name them.
	ar.Verdict = Undecidable
	var parts []string
	for i, c := range cands {
		o := outs[i]
		when := "otherwise"
		if len(c.undecided) > 0 {
			when = "if " + strings.Join(c.undecided, " and ")
		} else if i == 0 {
			when = "always"
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", verdictWord(o.v), when, describe(o, c)))
	}
	ar.Reason = strings.Join(parts, "; ")
	return ar
}

func verdictWord(v Verdict) string {
	switch v {
	case Pass:
		return "passes"
	case NotAppraised:
		return "not appraised"
	case Refused:
		return "refused"
	}
	return "undecidable"
}

// fileVerdict: refused if any use is refused, else undecidable if any is,
// else pass if any use is appraised and passes, else not appraised.
func fileVerdict(acc []AccessResult) (Verdict, string, string, *RuleRef) {
	for _, v := range []Verdict{Refused, Undecidable, Pass} {
		for _, a := range acc {
			if a.Verdict == v {
				return v, a.Cause, accessLabel(a) + ": " + a.Reason, a.Rule
			}
		}
	}
	return NotAppraised, "", "", nil
}

func accessLabel(a AccessResult) string {
	return access{fn: a.Func, mask: maskBits(a.Mask)}.name() + " (" + a.Func + ")"
}

func maskBits(s string) uint32 {
	var m uint32
	for _, p := range strings.Split(s, "|") {
		bit, _ := maskBit(p) // an unknown part adds nothing
		m |= bit
	}
	return m
}

// readHead reads up to n bytes from the start of the file.
func readHead(f *os.File, n int) []byte {
	b := make([]byte, n)
	m, _ := f.ReadAt(b, 0)
	return b[:m]
}

// elfType reads e_type from the first bytes of a file.
func elfType(head []byte) (elf.Type, bool) {
	if len(head) < 18 || !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return 0, false
	}
	switch elf.Data(head[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		return elf.Type(binary.LittleEndian.Uint16(head[16:])), true
	case elf.ELFDATA2MSB:
		return elf.Type(binary.BigEndian.Uint16(head[16:])), true
	}
	return 0, false
}

// mmapUses are the checks of an executable mapping: MMAP_CHECK, and
// MMAP_CHECK_REQPROT when a rule names it (kernels >= 6.4 call both).
func (j *judge) mmapUses(cr *creds) []use {
	u := []use{{accMmap, cr}}
	if j.reqprot {
		u = append(u, use{accMmapReq, cr})
	}
	return u
}
