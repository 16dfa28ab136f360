package ns

import (
	"encoding/json"
	"os"
	"strings"
)

// readCount reads a measurement counter file; ok is false when the kernel
// has none (no IMA): the wrapper then refuses or passes through for other
// reasons.
func readCount(countFile string) (uint64, bool) {
	b, err := os.ReadFile(countFile)
	if err != nil {
		return 0, false
	}
	n, err := parseCounter(b)
	return n, err == nil
}

// joinArgv and splitArgv carry an argv through one environment variable
// (JSON, so any argument survives).
func joinArgv(argv []string) string {
	b, _ := json.Marshal(argv)
	return string(b)
}

func splitArgv(s string) []string {
	var argv []string
	if json.Unmarshal([]byte(s), &argv) != nil {
		return nil
	}
	return argv
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
outer:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue outer
			}
		}
		out = append(out, kv)
	}
	return out
}
