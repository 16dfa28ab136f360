package measure

import (
	"fmt"
	"strings"
	"sync"
)

// Kind says how a template field is encoded and rendered; it mirrors the
// show functions of ima_template_lib.c.
type Kind uint8

const (
	// KindHex fields are raw bytes shown as lowercase hex (sig, buf, modsig,
	// evmsig, xattrlengths, xattrvalues, and fields this package does not know).
	KindHex Kind = iota
	// KindDigest is the "ima" template's d: raw digest, shown as bare hex.
	KindDigest
	// KindDigestAlgo is d-ng, d-ngv2 and d-modsig: "<prefix>:" NUL digest,
	// shown as "<prefix>:<hex>" (ima_show_template_digest_ng).
	KindDigestAlgo
	// KindName is the "ima" template's n: the name without NUL.
	KindName
	// KindString is n-ng and xattrnames: a NUL-terminated string shown
	// without its NUL (DATA_FMT_STRING).
	KindString
	// KindUint is iuid, igid, imode: an integer shown in decimal
	// (ima_show_template_uint).
	KindUint
	// KindNS is the ima-ns template's ns field. Its encoding depends on the
	// patch series (ima-formats 1.6): 4 bytes = openEuler/Huawei namespace
	// inode number in host order, shown as hex; 16 bytes = user-namespace
	// UUID (Bottomley RFC v1), shown %pU; anything else = label string
	// (Bottomley RFC v2), shown as a string.
	KindNS
)

// FieldDef is one field of a template format.
type FieldDef struct {
	ID   string
	Kind Kind
	// Width is the fixed size of KindUint fields (iuid/igid 4, imode 2) used
	// when an ASCII rendering is turned back into bytes.
	Width int
}

// Template is a template descriptor: the name logged in the list and its
// fields. For custom ima_template_fmt formats the name is the format string.
type Template struct {
	Name   string
	Fields []FieldDef
	// Legacy is the original "ima" template: no template-data length in the
	// binary list, n without NUL and padded to 256 bytes in the digest input.
	Legacy bool
	// Unknown is set for names that are neither built in nor a format string:
	// binary entries still parse (fields are length-prefixed) but their fields
	// are shown as hex and ASCII lines cannot be parsed.
	Unknown bool
}

// Field ids and limits from ima.h / ima_template.c.
const (
	maxFieldIDLen    = 16 // IMA_TEMPLATE_FIELD_ID_MAX_LEN
	maxTemplateField = 15 // IMA_TEMPLATE_NUM_FIELDS_MAX
	legacyNameMax    = 255
	legacyDigestLen  = 20
)

var fieldDefs = map[string]FieldDef{
	"d":            {ID: "d", Kind: KindDigest},
	"n":            {ID: "n", Kind: KindName},
	"d-ng":         {ID: "d-ng", Kind: KindDigestAlgo},
	"d-ngv2":       {ID: "d-ngv2", Kind: KindDigestAlgo},
	"n-ng":         {ID: "n-ng", Kind: KindString},
	"sig":          {ID: "sig", Kind: KindHex},
	"buf":          {ID: "buf", Kind: KindHex},
	"d-modsig":     {ID: "d-modsig", Kind: KindDigestAlgo},
	"modsig":       {ID: "modsig", Kind: KindHex},
	"evmsig":       {ID: "evmsig", Kind: KindHex},
	"xattrnames":   {ID: "xattrnames", Kind: KindString},
	"xattrlengths": {ID: "xattrlengths", Kind: KindHex},
	"xattrvalues":  {ID: "xattrvalues", Kind: KindHex},
	"iuid":         {ID: "iuid", Kind: KindUint, Width: 4},
	"igid":         {ID: "igid", Kind: KindUint, Width: 4},
	"imode":        {ID: "imode", Kind: KindUint, Width: 2},
	"ns":           {ID: "ns", Kind: KindNS},
}

// builtinTemplates mirrors builtin_templates in ima_template.c, plus the
// ima-ns template of the openEuler / Huawei IMA-namespace series.
var builtinTemplates = map[string]string{
	"ima":        "d|n",
	"ima-ng":     "d-ng|n-ng",
	"ima-sig":    "d-ng|n-ng|sig",
	"ima-ngv2":   "d-ngv2|n-ng",
	"ima-sigv2":  "d-ngv2|n-ng|sig",
	"ima-buf":    "d-ng|n-ng|buf",
	"ima-modsig": "d-ng|n-ng|sig|d-modsig|modsig",
	"evm-sig":    "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode",
	"ima-ns":     "d-ng|n-ng|ns",
}

// BuiltinTemplateNames lists the template names known without a format.
func BuiltinTemplateNames() []string {
	out := make([]string, 0, len(builtinTemplates))
	for n := range builtinTemplates {
		out = append(out, n)
	}
	return out
}

var (
	templateCacheMu sync.Mutex
	templateCache   = map[string]*Template{}
)

// templateCacheMax bounds the cache: a hostile list can name many distinct
// custom formats, and each lookup after the bound just parses again.
const templateCacheMax = 256

// LookupTemplate returns the descriptor for a logged template name: a
// built-in name, a custom format string ("d-ng|n-ng|ns"), or an unknown name
// (Template.Unknown). It fails only for names that cannot appear in a list:
// empty, too long, or a format string with an empty or oversized field id.
func LookupTemplate(name string) (*Template, error) {
	templateCacheMu.Lock()
	t, ok := templateCache[name]
	templateCacheMu.Unlock()
	if ok {
		return t, nil
	}
	t, err := parseTemplate(name)
	if err != nil {
		return nil, err
	}
	templateCacheMu.Lock()
	if len(templateCache) < templateCacheMax {
		templateCache[name] = t
	}
	templateCacheMu.Unlock()
	return t, nil
}

func parseTemplate(name string) (*Template, error) {
	if name == "" {
		return nil, fmt.Errorf("empty template name")
	}
	if len(name) > DefaultLimits.MaxTemplateName {
		return nil, fmt.Errorf("template name of %d bytes exceeds %d", len(name), DefaultLimits.MaxTemplateName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return nil, fmt.Errorf("template name contains byte 0x%02x at %d (want printable ASCII without spaces)", c, i)
		}
	}
	format, builtin := builtinTemplates[name]
	if !builtin {
		if _, isField := fieldDefs[name]; !isField && !strings.Contains(name, "|") {
			return &Template{Name: name, Unknown: true}, nil
		}
		format = name
	}
	ids := strings.Split(format, "|")
	if len(ids) > maxTemplateField {
		return nil, fmt.Errorf("template format %q has %d fields (the kernel allows %d)", format, len(ids), maxTemplateField)
	}
	t := &Template{Name: name, Legacy: name == "ima", Fields: make([]FieldDef, len(ids))}
	for i, id := range ids {
		if id == "" || len(id) > maxFieldIDLen {
			return nil, fmt.Errorf("template format %q: field %d id %q is empty or longer than %d", format, i, id, maxFieldIDLen)
		}
		def, ok := fieldDefs[id]
		if !ok {
			def = FieldDef{ID: id, Kind: KindHex}
		}
		t.Fields[i] = def
	}
	return t, nil
}
