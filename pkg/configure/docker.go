package configure

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// DockerConfig is dockerd's configuration file.
const DockerConfig = "/etc/docker/daemon.json"

func planDocker(o Options, p *Plan) error {
	p.Restart = "systemctl reload docker (dockerd reloads its runtimes on SIGHUP; running containers are not touched)"
	path := DockerConfig
	text, err := o.readFile(path)
	if err != nil {
		return err
	}
	cfg := map[string]any{}
	if text != nil && len(bytes.TrimSpace(text)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber() // keep numbers as written
		if err := dec.Decode(&cfg); err != nil {
			return userror.Wrapf(err, o.host(path), "fix the file (dockerd would not start with it either); nothing was changed", "not valid JSON")
		}
	}
	// Docker passes runtimeArgs before its own arguments; it reads no
	// hooks.d, so the wrapper adds the hooks.
	want := map[string]any{"path": o.binary(), "runtimeArgs": []any{"runtime", "--inject-hooks", "--"}}
	runtimes, _ := cfg["runtimes"].(map[string]any)
	if cfg["runtimes"] != nil && runtimes == nil {
		return userror.New(o.host(path), "\"runtimes\" is not an object", "fix it; nothing was changed")
	}
	if have, ok := runtimes[o.Handler]; ok {
		if !reflect.DeepEqual(have, want) {
			return userror.New(o.host(path), "runtime "+o.Handler+" is there already, differently", "remove it (a backup first) and run configure again; nothing was changed")
		}
		p.Unchanged = append(p.Unchanged, path+": runtime "+o.Handler+" (already there)")
		return nil
	}
	if runtimes == nil {
		runtimes = map[string]any{}
	}
	runtimes[o.Handler] = want
	cfg["runtimes"] = runtimes
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	p.add(path, text, append(out, '\n'), 0o644, "added runtime "+o.Handler+" ("+o.binary()+" runtime --inject-hooks --)")
	return nil
}
