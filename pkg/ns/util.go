package ns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// writeSmallFile writes data to path atomically, creating its directory.
func writeSmallFile(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeListStart copies the host's measurement count (countFile) into path.
// A kernel without the file (no IMA) gives no marker, not an error: the
// wrapper then refuses or passes through for other reasons.
func writeListStart(path, countFile string) error {
	b, err := os.ReadFile(countFile)
	if err != nil {
		os.Remove(path)
		return nil
	}
	return writeSmallFile(path, strings.TrimSpace(string(b)))
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
