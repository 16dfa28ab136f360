package measure

import "fmt"

// FormatError is malformed input in a measurement list. Binary lists give
// the byte offset of the bad value, ASCII lists its line and column.
type FormatError struct {
	Format string // "binary" or "ascii"
	Index  int64  // entry being read
	Offset int64  // byte offset of the bad value (binary), -1 for ascii
	Line   int    // 1-based (ascii)
	Col    int    // 1-based byte column (ascii)
	Msg    string
	Hint   string // how the user may get past it, "" if nothing to suggest
}

func (e *FormatError) Error() string {
	var s string
	if e.Format == "ascii" {
		s = fmt.Sprintf("ascii list: line %d, column %d (entry %d): %s", e.Line, e.Col, e.Index, e.Msg)
	} else {
		s = fmt.Sprintf("binary list: byte %d (entry %d): %s", e.Offset, e.Index, e.Msg)
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Limits bound what a reader accepts. The kernel has no hard limit on
// template data (ima-buf carries keys and critical data, n-ng is a path of
// up to PATH_MAX, evm-sig carries xattr values); evmctl stops at 4 KiB
// (MAX_TEMPLATE_SIZE), which real ima-buf key entries can exceed.
type Limits struct {
	// MaxTemplateName bounds the template name: 255 covers every custom
	// format (15 fields of at most 16 characters and 14 separators).
	MaxTemplateName int
	// MaxFields is IMA_TEMPLATE_NUM_FIELDS_MAX (15).
	MaxFields int
	// MaxTemplateData bounds the template data of one entry: 1 MiB, far
	// above any kernel-produced entry (largest: ima-buf of a key or policy).
	MaxTemplateData int
	// MaxPCR bounds the PCR number; the kernel accepts pcr= up to 63 in a
	// policy, a larger number means a corrupt list or the wrong byte order.
	MaxPCR uint32
}

// DefaultLimits are the bounds readers use when Limits is zero.
var DefaultLimits = Limits{MaxTemplateName: 255, MaxFields: maxTemplateField, MaxTemplateData: 1 << 20, MaxPCR: 63}

func (l Limits) withDefaults() Limits {
	if l.MaxTemplateName <= 0 {
		l.MaxTemplateName = DefaultLimits.MaxTemplateName
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultLimits.MaxFields
	}
	if l.MaxTemplateData <= 0 {
		l.MaxTemplateData = DefaultLimits.MaxTemplateData
	}
	if l.MaxPCR == 0 {
		l.MaxPCR = DefaultLimits.MaxPCR
	}
	return l
}
