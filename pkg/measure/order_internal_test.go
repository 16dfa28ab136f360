package measure

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// A big-endian host without ima_canonical_fmt writes every integer, and the
// length prefixes it hashes, in big-endian; the ns field is raw host order.
func TestBigEndianListVerifies(t *testing.T) {
	for _, l := range []Layout{LayoutPlain, LayoutNSHeader} {
		t.Run(l.String(), func(t *testing.T) { testBigEndianListVerifies(t, l) })
	}
}

func testBigEndianListVerifies(t *testing.T, l Layout) {
	var list []byte
	var want []imansid.ID
	for i := 0; i < 50; i++ {
		e, err := NewNSEntry(10, "sha256", bytes.Repeat([]byte{byte(i)}, 32), "/bin/x", 0xF0000100+imansid.ID(i%3))
		if err != nil {
			t.Fatal(err)
		}
		e.order, e.nsOrder = BigEndian, BigEndian
		e.Fields[2].Data = BigEndian.binary().AppendUint32(nil, uint32(0xF0000100+imansid.ID(i%3)))
		if err := e.SetDigests(SHA1); err != nil {
			t.Fatal(err)
		}
		list = AppendBinary(list, e, WriteOptions{Order: BigEndian, NSHeader: l == LayoutNSHeader})
		want = append(want, 0xF0000100+imansid.ID(i%3))
	}
	r := NewBinaryReader(bytes.NewReader(list), ReadOptions{})
	v, _ := NewVerifier(VerifyOptions{})
	for i := 0; ; i++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if chk := v.Add(e, true); !chk.TemplateOK {
			t.Fatalf("entry %d: %s", i, chk.Problem)
		}
		if id, ok := e.NSID(); !ok || id != want[i] {
			t.Fatalf("entry %d: ns %x", i, id)
		}
		// Its ascii line shows the ns bytes in memory order.
		if line := FormatASCII(e); !bytes.HasSuffix([]byte(line), []byte(" f000010"+string("012"[i%3])+"\n")) {
			t.Fatalf("line %q", line)
		}
	}
	if r.Order() != BigEndian || r.Layout() != l {
		t.Fatalf("byte order %v layout %v, want big-endian %v", r.Order(), r.Layout(), l)
	}
	// Canonical list of a big-endian host: little-endian lengths, ns raw.
	r = NewBinaryReader(bytes.NewReader(list), ReadOptions{Order: LittleEndian})
	if _, err := r.Next(); err == nil {
		t.Fatal("big-endian list read as little-endian")
	}
}
