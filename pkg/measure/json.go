package measure

import (
	"strconv"
	"unicode/utf8"

	"github.com/ima-hook/ima-hook/internal/jsonstr"
)

// JSON output, schema "ima-hook.measurements/v1" (docs/measurements.md):
// one object per line. Entry lines have "type":"entry" and keys in a fixed
// order; the last line has "type":"summary". Keys are only ever added.
const JSONSchema = "ima-hook.measurements/v1"

// AppendJSON appends the JSON line of e (with its verification verdict when
// chk is not nil) and a newline.
func AppendJSON(dst []byte, e *Entry, chk *EntryCheck, allow bool) []byte {
	dst = append(dst, `{"type":"entry","index":`...)
	dst = strconv.AppendInt(dst, e.Pos.Index, 10)
	if e.Pos.Line > 0 {
		dst = append(dst, `,"line":`...)
		dst = strconv.AppendInt(dst, int64(e.Pos.Line), 10)
	} else {
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, e.Pos.Offset, 10)
	}
	dst = append(dst, `,"pcr":`...)
	dst = strconv.AppendUint(dst, uint64(e.PCR), 10)
	dst = append(dst, `,"template":`...)
	dst = jsonstr.Append(dst, []byte(e.Template))
	if len(e.Digests) > 0 {
		dst = append(dst, `,"digest_alg":"`...)
		dst = append(dst, e.Digests[0].Alg.String()...)
		dst = append(dst, `","template_digest":"`...)
		dst = appendHex(dst, e.Digests[0].Sum)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"violation":`...)
	dst = strconv.AppendBool(dst, e.Violation())
	if algo, sum, ok := e.fileDigest(); ok {
		dst = append(dst, `,"file_digest_alg":`...)
		dst = jsonstr.Append(dst, algo)
		dst = append(dst, `,"file_digest":"`...)
		dst = appendHex(dst, sum)
		dst = append(dst, '"')
	}
	if f := e.field(KindString, KindName); f != nil {
		name := e.eventName()
		dst = append(dst, `,"name":`...)
		dst = jsonstr.Append(dst, name)
		if !utf8.Valid(name) {
			dst = append(dst, `,"name_hex":"`...)
			dst = appendHex(dst, name)
			dst = append(dst, '"')
		}
	}
	if ns, ok := e.NSID(); ok {
		dst = append(dst, `,"ns":`...)
		dst = strconv.AppendUint(dst, uint64(ns), 10)
	}
	dst = append(dst, `,"fields":[`...)
	t := e.desc()
	var scratch [256]byte
	for i, f := range e.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		def := FieldDef{ID: f.ID, Kind: KindHex}
		if t != nil && !t.Unknown && i < len(t.Fields) {
			def = t.Fields[i]
		}
		dst = append(dst, `{"id":`...)
		dst = jsonstr.Append(dst, []byte(def.ID))
		dst = append(dst, `,"value":`...)
		dst = jsonstr.Append(dst, appendRendering(scratch[:0], def, f.Data, e.Order(), e.nsByteOrder()))
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if chk != nil {
		if chk.Unchecked != "" {
			// Neither true nor false: the digest was not compared.
			dst = append(dst, `,"unchecked":`...)
			dst = jsonstr.Append(dst, []byte(chk.Unchecked))
		} else if !chk.Violation {
			dst = append(dst, `,"template_ok":`...)
			dst = strconv.AppendBool(dst, chk.TemplateOK)
		}
		if allow {
			dst = append(dst, `,"allowlist":"`...)
			dst = append(dst, chk.Allow.String()...)
			dst = append(dst, '"')
		}
		if chk.Problem != "" {
			dst = append(dst, `,"problem":`...)
			dst = jsonstr.Append(dst, []byte(chk.Problem))
		}
	}
	return append(dst, "}\n"...)
}
