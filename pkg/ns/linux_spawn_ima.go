//go:build linux && !imaemu && !timens

package ns

import (
	"path/filepath"

	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// The release build: the wrapper creates an IMA namespace.
var spawnKind = spawnKindT{
	name:       "ima",
	flag:       CloneNewIMA,
	childrenNS: "ima_for_children",
	writes: func(k *linuxKernel, req SpawnRequest) []nsenter.Write {
		// ima_write_*_for_children take the value verbatim (no trimming: a
		// trailing newline would become part of the x509 path), one write each.
		var w []nsenter.Write
		if req.Kcmd != "" {
			w = append(w, nsenter.Write{Path: filepath.Join(k.secfs, "kcmd_for_children"), Data: req.Kcmd})
		}
		if req.X509Path != "" {
			w = append(w, nsenter.Write{Path: filepath.Join(k.secfs, "x509_for_children"), Data: req.X509Path})
		}
		return w
	},
	missing: func(k *linuxKernel) string { return k.Probe().Missing() },
}
