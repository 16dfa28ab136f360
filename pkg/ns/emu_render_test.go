//go:build imaemu

package ns

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
)

// The emulator's lists are the kernel's bytes: the worked example of
// docs/kernel-abi.md#worked-example for namespace 4026532329.
func TestRenderEmulatedMatchesTheABIExample(t *testing.T) {
	entries := []emukernel.Entry{
		{PCR: 10, Template: "ima-ns", Algo: "sha1", Digest: strings.Repeat("0", 40), Name: "ns_aggregate_4026532329", NS: 4026532329},
		{PCR: 10, Template: "ima-ns", Algo: "sha256", Digest: "2a7c66fc7e19acc100ee2b777b71179043fade8b81968828522cf31e6a96eaa7", Name: "/usr/bin/bash", NS: 4026532329},
	}
	var ascii bytes.Buffer
	if err := RenderEmulated(&ascii, entries, false, emukernel.DefaultSwitches()); err != nil {
		t.Fatal(err)
	}
	want := "10 a2704b7e24c69a20c4d0aa9223c4d3a2c37d6ed1 ima-ns sha1:0000000000000000000000000000000000000000 ns_aggregate_4026532329 e90100f0\n" +
		"10 665a87f9af263e047e3b467dcf857d9ea1dae773 ima-ns sha256:2a7c66fc7e19acc100ee2b777b71179043fade8b81968828522cf31e6a96eaa7 /usr/bin/bash e90100f0\n"
	if ascii.String() != want {
		t.Fatalf("ascii:\n%s\nwant:\n%s", ascii.String(), want)
	}
	// The binary list in both layouts the binary_ns_header switch chooses;
	// the reader detects each, and the ASCII list does not change.
	for _, nsHeader := range []bool{false, true} {
		sw := emukernel.DefaultSwitches()
		sw.BinaryNSHeader = nsHeader
		var bin, asc bytes.Buffer
		if err := RenderEmulated(&bin, entries, true, sw); err != nil {
			t.Fatal(err)
		}
		if err := RenderEmulated(&asc, entries, false, sw); err != nil || asc.String() != want {
			t.Fatalf("binary_ns_header=%v: ascii %q %v", nsHeader, asc.String(), err)
		}
		// The RFC layout: u32 PCR 10, then u32 namespace id 4026532329.
		if got := bin.Bytes()[4:8]; nsHeader != bytes.Equal(got, []byte{0xe9, 0x01, 0x00, 0xf0}) {
			t.Fatalf("binary_ns_header=%v: bytes 4-7 %x", nsHeader, got)
		}
		r := measure.NewBinaryReader(bytes.NewReader(bin.Bytes()), measure.ReadOptions{})
		for i := range entries {
			e, err := r.Next()
			if err != nil {
				t.Fatalf("binary_ns_header=%v entry %d: %v", nsHeader, i, err)
			}
			if id, ok := e.NSID(); !ok || id != 4026532329 || e.EventName() != entries[i].Name || measure.FormatASCII(e) != strings.SplitAfter(want, "\n")[i] {
				t.Fatalf("binary_ns_header=%v entry %d: ns %d %v name %q", nsHeader, i, id, ok, e.EventName())
			}
		}
		wantLayout := measure.LayoutPlain
		if nsHeader {
			wantLayout = measure.LayoutNSHeader
		}
		if r.Layout() != wantLayout || !r.LayoutDetected() {
			t.Fatalf("binary_ns_header=%v: layout %v detected %v", nsHeader, r.Layout(), r.LayoutDetected())
		}
	}
}
