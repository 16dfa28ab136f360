package measure

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PCRBank holds reference PCR values of one bank; nil values are unknown.
type PCRBank struct {
	Alg    Alg
	Values [NumPCRs][]byte
	Source string
}

// PCRSet is the reference the replay is compared with.
type PCRSet struct {
	Banks []*PCRBank
	// Unknown are banks the TPM has (with values) under a name this
	// package does not know: they cannot be replayed, and a verification
	// against this set reports them as unchecked.
	Unknown []UnknownBank
}

// UnknownBank is a TPM bank of an algorithm this package does not know.
type UnknownBank struct {
	Name, Source string
}

// Bank returns the bank of a, nil if absent.
func (s *PCRSet) Bank(a Alg) *PCRBank {
	if s == nil {
		return nil
	}
	for _, b := range s.Banks {
		if b.Alg == a {
			return b
		}
	}
	return nil
}

// Add adds b; a second source for the same bank is an error (which one is
// right would be a guess).
func (s *PCRSet) Add(b *PCRBank) error {
	if old := s.Bank(b.Alg); old != nil {
		return fmt.Errorf("%s: PCR values for bank %s were already read from %s", b.Source, b.Alg, old.Source)
	}
	s.Banks = append(s.Banks, b)
	return nil
}

// maxPCRFile bounds a PCR file: 24 PCRs of 5 banks in any format fit in a
// few KiB.
const maxPCRFile = 64 << 10

// PCRSpec is one --pcrs argument: [ALGO,]FILE (evmctl syntax).
type PCRSpec struct {
	Alg  Alg // AlgUnknown: evmctl format means sha1, tpm2_pcrread output gives its banks
	Path string
}

// ParsePCRSpec parses "[ALGO,]FILE".
func ParsePCRSpec(s string) (PCRSpec, error) {
	if alg, path, ok := strings.Cut(s, ","); ok {
		a, err := ParseAlg(alg)
		if err != nil {
			return PCRSpec{}, err
		}
		if path == "" {
			return PCRSpec{}, fmt.Errorf("%q names no file", s)
		}
		return PCRSpec{Alg: a, Path: path}, nil
	}
	if s == "" {
		return PCRSpec{}, errors.New("empty PCR file name")
	}
	return PCRSpec{Path: s}, nil
}

// LoadPCRFile reads a PCR file: evmctl's format (lines "PCR-NN: <hex>",
// hex bytes possibly separated by spaces as in the TPM 1.2 sysfs pcrs file)
// or the output of tpm2_pcrread (a "sha256:" line, then "  10: 0x<hex>"
// lines).
func LoadPCRFile(spec PCRSpec) ([]*PCRBank, error) {
	f, err := os.Open(spec.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParsePCRs(io.LimitReader(f, maxPCRFile+1), spec.Alg, spec.Path)
}

// ParsePCRs parses the text of a PCR file, see LoadPCRFile. alg selects the
// bank of an evmctl file (AlgUnknown = sha1, as evmctl) or the one bank kept
// from tpm2_pcrread output (AlgUnknown = all of them).
func ParsePCRs(r io.Reader, alg Alg, source string) ([]*PCRBank, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPCRFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPCRFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a PCR file", source, maxPCRFile)
	}
	var banks []*PCRBank
	var cur *PCRBank
	bankOf := func(a Alg) *PCRBank {
		for _, b := range banks {
			if b.Alg == a {
				return b
			}
		}
		b := &PCRBank{Alg: a, Source: source}
		banks = append(banks, b)
		return b
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxPCRFile+1)
	line := 0
	evmctl := false
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		fail := func(col int, format string, args ...any) error {
			return fmt.Errorf("%s: line %d, column %d: %s", source, line, col, fmt.Sprintf(format, args...))
		}
		if rest, ok := strings.CutPrefix(text, "PCR-"); ok {
			evmctl = true
			num, hexpart, ok := strings.Cut(rest, ":")
			idx, err := strconv.Atoi(num)
			if !ok || err != nil || idx < 0 || idx >= NumPCRs {
				return nil, fail(5, "want PCR-NN: with NN from 00 to %d", NumPCRs-1)
			}
			a := alg
			if a == AlgUnknown {
				a = SHA1
			}
			if cur == nil {
				cur = bankOf(a)
			}
			if err := setPCR(cur, idx, strings.ReplaceAll(strings.TrimSpace(hexpart), " ", "")); err != nil {
				return nil, fail(5+len(num)+1, "%v", err)
			}
			continue
		}
		if evmctl {
			return nil, fail(1, "want a PCR-NN: line")
		}
		// tpm2_pcrread: "  sha256:" then "    10 : 0x<HEX>".
		if name, ok := strings.CutSuffix(trimmed, ":"); ok && !strings.ContainsAny(name, " :") {
			a, err := ParseAlg(name)
			if err != nil {
				return nil, fail(1, "%v", err)
			}
			cur = bankOf(a)
			continue
		}
		num, val, ok := strings.Cut(trimmed, ":")
		idx, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || idx < 0 || idx >= NumPCRs || cur == nil {
			return nil, fail(1, "want \"PCR-NN: <hex>\" (evmctl) or \"NN : 0x<hex>\" under a bank line (tpm2_pcrread)")
		}
		val = strings.TrimSpace(val)
		val = strings.TrimPrefix(strings.TrimPrefix(val, "0x"), "0X")
		if err := setPCR(cur, idx, val); err != nil {
			return nil, fail(strings.Index(text, ":")+2, "%v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(banks) == 0 {
		return nil, fmt.Errorf("%s: no PCR values found", source)
	}
	if !evmctl && alg != AlgUnknown {
		for _, b := range banks {
			if b.Alg == alg {
				return []*PCRBank{b}, nil
			}
		}
		return nil, fmt.Errorf("%s: no %s bank in the file", source, alg)
	}
	return banks, nil
}

func setPCR(b *PCRBank, idx int, hexval string) error {
	if b.Values[idx] != nil {
		return fmt.Errorf("PCR %d of bank %s given twice", idx, b.Alg)
	}
	v := make([]byte, 0, len(hexval)/2)
	for i := 0; i+1 < len(hexval); i += 2 {
		hi, lo := unhexAny(hexval[i]), unhexAny(hexval[i+1])
		if hi < 0 || lo < 0 {
			return fmt.Errorf("PCR %d: bad hex digit near %q", idx, hexval[i:i+2])
		}
		v = append(v, byte(hi<<4|lo))
	}
	if len(hexval)%2 != 0 || len(v) != b.Alg.Size() {
		return fmt.Errorf("PCR %d: %d hex digits, want %d for %s", idx, len(hexval), 2*b.Alg.Size(), b.Alg)
	}
	b.Values[idx] = v
	return nil
}

func unhexAny(c byte) int {
	if c >= 'A' && c <= 'F' {
		c += 'a' - 'A'
	}
	return unhex(c)
}

// DefaultTPMSysfs is where kernels 5.12+ export PCR values per bank
// (pcr-<alg>/<n>).
const DefaultTPMSysfs = "/sys/class/tpm/tpm0"

// ReadSysfsPCRs reads every pcr-<alg>/<n> file under dir. It returns
// fs.ErrNotExist when dir has no PCR banks. Read them before the list: the
// list then covers at least what the PCRs do (the kernel appends to the list
// before it extends the TPM, ima_add_template_entry).
func ReadSysfsPCRs(dir string) (*PCRSet, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "pcr-*"))
	if err != nil {
		return nil, err
	}
	set := &PCRSet{}
	for _, m := range matches {
		a, err := ParseAlg(strings.TrimPrefix(filepath.Base(m), "pcr-"))
		if err != nil {
			// A bank this package does not know: not replayable, so
			// reported (when it holds values), never silently left out.
			if vals, _ := filepath.Glob(filepath.Join(m, "[0-9]*")); len(vals) > 0 {
				set.Unknown = append(set.Unknown, UnknownBank{Name: strings.TrimPrefix(filepath.Base(m), "pcr-"), Source: m})
			}
			continue
		}
		b := &PCRBank{Alg: a, Source: m}
		for i := 0; i < NumPCRs; i++ {
			p := filepath.Join(m, strconv.Itoa(i))
			data, err := readSmall(p, 4*MaxDigestSize)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, err
			}
			if err := setPCR(b, i, strings.TrimSpace(string(data))); err != nil {
				return nil, fmt.Errorf("%s: %v", p, err)
			}
		}
		if err := set.Add(b); err != nil {
			return nil, err
		}
	}
	if len(set.Banks) == 0 && len(set.Unknown) == 0 {
		return nil, fmt.Errorf("%s: no pcr-<alg> directories: %w", dir, fs.ErrNotExist)
	}
	return set, nil
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// WriteEvmctlPCRs writes b in evmctl's --pcrs format: all 24 lines, unknown
// values as zeros (evmctl wants every line, in order).
func WriteEvmctlPCRs(w io.Writer, b *PCRBank) error {
	bw := bufio.NewWriter(w)
	for i := 0; i < NumPCRs; i++ {
		v := b.Values[i]
		if v == nil {
			v = make([]byte, b.Alg.Size())
		}
		fmt.Fprintf(bw, "PCR-%02d: %x\n", i, v)
	}
	return bw.Flush()
}
