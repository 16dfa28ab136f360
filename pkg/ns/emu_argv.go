//go:build imaemu

package ns

import (
	"encoding/json"
	"strings"
)

// joinArgv and splitArgv carry an argv through one environment variable
// (JSON, so any argument survives) to the emulator's join stage, which
// withoutEnv then leaves out of the command's environment.
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
