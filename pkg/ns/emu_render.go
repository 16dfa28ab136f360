//go:build imaemu

package ns

import (
	"encoding/hex"
	"io"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
)

// RenderEmulated writes emulated entries the way the kernel's
// ima_measurements_show (binary) and ima_ascii_measurements_show (ASCII)
// do, through pkg/measure's encoder. The binary records carry the RFC's
// namespace id after the PCR when the emulated kernel has the
// binary_ns_header switch.
func RenderEmulated(w io.Writer, entries []emukernel.Entry, binary bool, sw emukernel.Switches) error {
	var buf []byte
	for _, e := range entries {
		var me *measure.Entry
		var err error
		switch {
		case e.Violation:
			me, err = measure.NewViolation(uint32(e.PCR), e.Template, e.Name, e.NS)
		case isNSAggregate(e.Name) && e.Algo == "sha1":
			me, err = measure.NewNSAggregate(e.NS, e.Template)
		default:
			d, derr := hex.DecodeString(e.Digest)
			if derr != nil {
				return derr
			}
			if e.Template == "ima-ng" {
				me, err = measure.NewNGEntry(uint32(e.PCR), e.Algo, d, e.Name)
			} else {
				me, err = measure.NewNSEntry(uint32(e.PCR), e.Algo, d, e.Name, e.NS)
			}
		}
		if err != nil {
			return err
		}
		// The RFC header holds the id of the namespace the entry was
		// measured in, whatever the template.
		me.NSHeader = e.NS
		buf = buf[:0]
		if binary {
			buf = measure.AppendBinary(buf, me, measure.WriteOptions{NSHeader: sw.BinaryNSHeader})
		} else {
			buf = append(buf, measure.FormatASCII(me)...) // ends with a newline
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func isNSAggregate(name string) bool {
	_, ok := measure.ParseNSAggregateName(name)
	return ok
}
