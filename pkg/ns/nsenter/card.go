package nsenter

import (
	"fmt"
	"hash/fnv"
)

// A pass-through card tells the C pre-filter (passthrough.c) what the Go
// wrapper learnt from loading one admin config: that a container without
// io.imans.* annotations gets no IMA under it (the wrapper writes a card
// only for a config without mandatory = true), which runtime it names and
// where the wrapper keeps its notes. The pre-filter trusts a card only
// while the admin config holds exactly the bytes the card names and the
// running binary is the one that wrote it.
//
// One file per admin config, named by the FNV-1a 64 hash of the config's
// path (16 hex digits), in a directory of root's that no one else may
// write (CardDir). The file is six lines, each ending in "\n":
//
//	ima-hook pass-through card 1
//	exe DEV INO SIZE MTIME_SEC MTIME_NSEC    (the writer's /proc/self/exe)
//	config SIZE FNV64HEX                      (or "config absent": the default
//	                                          path, built-in defaults)
//	runtime PATH                              (absolute; "-": did not resolve)
//	path =VALUE                               (the PATH the runtime was found
//	                                          in; "path -": it was absolute)
//	run_dir PATH
type Card struct {
	// ConfigPath is the admin config's absolute path, as the wrapper was
	// given it (or pkg/config.DefaultPath).
	ConfigPath string
	// ConfigAbsent says the default path did not exist (built-in defaults).
	ConfigAbsent bool
	// ConfigSize and ConfigFNV identify the bytes the config was parsed
	// from (pkg/config.Admin.SourceSize, SourceFNV).
	ConfigSize int64
	ConfigFNV  uint64
	// Runtime is the admin's runtime resolved to an absolute path, "" when
	// it did not resolve; LookedUp says it was found through PATH, whose
	// value was Path.
	Runtime  string
	LookedUp bool
	Path     string
	RunDir   string
}

// CardName is the file name of configPath's card in the card directory.
func CardName(configPath string) string {
	h := fnv.New64a()
	h.Write([]byte(configPath))
	return fmt.Sprintf("%016x", h.Sum64())
}
