//go:build linux && cgo

package nsentertest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// environ is the environment nsenter encodes p into for the re-exec.
func environ(t *testing.T, p nsenter.StagePlan) []string {
	t.Helper()
	cmd, err := nsenter.Command(p)
	if err != nil {
		t.Fatal(err)
	}
	return cmd.Env
}

// What Go encodes, C decodes to the same plan.
func TestEncodingRoundTrip(t *testing.T) {
	for _, p := range []nsenter.StagePlan{
		{Stage: "populate", SetnsPath: "/proc/42/ns/ima"},
		{Stage: "s_2-x", SetnsFD: 7},
		{Exec: []string{"/usr/sbin/runc"}, Fork: true, Unshare: 0x400000000,
			Writes: []nsenter.Write{
				{Path: "/sys/kernel/security/ima/kcmd_for_children", Data: "ima_policy=tcb ima_appraise=fix"},
				{Path: "/sys/kernel/security/ima/x509_for_children", Data: "/etc/ima-hook/keys/a b:c.der"},
				{Path: "/bin/binary", Data: "\x00\x01\xff\n=:"},
				{Path: "/empty", Data: ""},
			},
			NSIDLink: "/proc/self/ns/ima_for_children", NSIDFile: "/run/ima-hook/created/c.nsid"},
		{Exec: []string{"/usr/sbin/runc"}, ErrorLog: "/run/containerd/x/log.json", ErrorLogJSON: true},
		{Stage: "s", ErrorLog: "/var/log/runc.log"},
	} {
		got, err := ParseEnv(environ(t, p))
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		want := Parsed{Active: true, SetnsPath: p.SetnsPath, SetnsFD: p.SetnsFD, Unshare: p.Unshare,
			Writes: p.Writes, NSIDLink: p.NSIDLink, NSIDFile: p.NSIDFile, Fork: p.Fork,
			Exec: len(p.Exec) > 0, Stage: p.Stage, ErrorLog: p.ErrorLog, ErrorJSON: p.ErrorLogJSON}
		if want.SetnsFD == 0 {
			want.SetnsFD = -1
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestEncodingDropsStaleMarkers(t *testing.T) {
	env := environ(t, nsenter.StagePlan{Stage: "s", Env: []string{"A=1", "_IMA_HOOK_NSENTER_FORK=1", "_IMA_HOOK_NSENTER=9"}})
	got, err := ParseEnv(env)
	if err != nil || got.Fork {
		t.Errorf("stale markers survived: %+v %v (env %q)", got, err, env)
	}
}

func TestParseRejects(t *testing.T) {
	base := "_IMA_HOOK_NSENTER=1"
	for name, tc := range map[string]struct {
		env  []string
		want string
	}{
		"version":      {[]string{"_IMA_HOOK_NSENTER=0"}, "unknown plan encoding version"},
		"fd 2":         {[]string{base, "_IMA_HOOK_NSENTER_SETNS_FD=2"}, "above 2"},
		"fd junk":      {[]string{base, "_IMA_HOOK_NSENTER_SETNS_FD=3x"}, "above 2"},
		"fd overflow":  {[]string{base, "_IMA_HOOK_NSENTER_SETNS_FD=99999999999999999999999"}, "above 2"},
		"both setns":   {[]string{base, "_IMA_HOOK_NSENTER_SETNS_FD=3", "_IMA_HOOK_NSENTER_SETNS_PATH=/x"}, "only one"},
		"relative":     {[]string{base, "_IMA_HOOK_NSENTER_SETNS_PATH=x"}, "absolute path"},
		"unshare neg":  {[]string{base, "_IMA_HOOK_NSENTER_UNSHARE=-5"}, "non-zero decimal"},
		"unshare 0":    {[]string{base, "_IMA_HOOK_NSENTER_UNSHARE=0"}, "non-zero decimal"},
		"unshare hex":  {[]string{base, "_IMA_HOOK_NSENTER_UNSHARE=0x10"}, "non-zero decimal"},
		"write odd":    {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=abc:/x"}, "hex data"},
		"write upper":  {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=AB:/x"}, "not lower-case hex"},
		"write nocol":  {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=ab"}, "hex data"},
		"write big":    {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=" + strings.Repeat("61", nsenter.MaxData+1) + ":/x"}, "under 4096"},
		"write path":   {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=61:x"}, "absolute path"},
		"nine writes":  {append([]string{base}, nineWrites()...), "too many writes"},
		"link only":    {[]string{base, "_IMA_HOOK_NSENTER_NSID_LINK=/x"}, "both"},
		"fork 2":       {[]string{base, "_IMA_HOOK_NSENTER_FORK=2"}, "want 1"},
		"stage chars":  {[]string{base, "_IMA_HOOK_NSENTER_STAGE=a/b"}, "[A-Za-z0-9_-]"},
		"stage empty":  {[]string{base, "_IMA_HOOK_NSENTER_STAGE="}, "1 to 64"},
		"path too big": {[]string{base, "_IMA_HOOK_NSENTER_SETNS_PATH=/" + strings.Repeat("a", nsenter.MaxPath)}, "at most 4096"},
		"log format":   {[]string{base, "_IMA_HOOK_NSENTER_ERRLOG=xml:/l"}, "json:<path> or text:<path>"},
		"log relative": {[]string{base, "_IMA_HOOK_NSENTER_ERRLOG=json:l"}, "absolute path"},
	} {
		_, err := ParseEnv(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// No marker: inactive, whatever else is there.
	if p, err := ParseEnv([]string{"_IMA_HOOK_NSENTER_FORK=1", "_IMA_HOOK_NSENTERX=1"}); err != nil || p.Active {
		t.Errorf("without the marker: %+v %v", p, err)
	}
}

func nineWrites() []string {
	var w []string
	for i := range nsenter.MaxWrites + 1 {
		w = append(w, "_IMA_HOOK_NSENTER_WRITE_"+string(rune('0'+i))+"=61:/x")
	}
	return w
}

// The C parser never crashes and, on whatever it accepts, agrees with the
// bounds Go promises.
func FuzzParse(f *testing.F) {
	f.Add("_IMA_HOOK_NSENTER=1", "_IMA_HOOK_NSENTER_WRITE_0=6162:/x", "_IMA_HOOK_NSENTER_UNSHARE=17179869184")
	f.Add("_IMA_HOOK_NSENTER=1", "_IMA_HOOK_NSENTER_SETNS_FD=3", "_IMA_HOOK_NSENTER_STAGE=populate")
	f.Add("_IMA_HOOK_NSENTER=1", "_IMA_HOOK_NSENTER_NSID_LINK=/a", "_IMA_HOOK_NSENTER_NSID_FILE=/b")
	f.Add("_IMA_HOOK_NSENTER=1", "_IMA_HOOK_NSENTER_ERRLOG=json:/run/x/log.json", "_IMA_HOOK_NSENTER_EXEC=1")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		env := []string{}
		for _, e := range []string{a, b, c} {
			if !strings.ContainsRune(e, 0) {
				env = append(env, e)
			}
		}
		p, err := ParseEnv(env)
		if err != nil {
			return
		}
		if len(p.Writes) > nsenter.MaxWrites || len(p.Stage) > nsenter.MaxStage || len(p.SetnsPath) > nsenter.MaxPath {
			t.Fatalf("bounds exceeded: %+v", p)
		}
		for _, w := range p.Writes {
			if len(w.Data) > nsenter.MaxData || !strings.HasPrefix(w.Path, "/") {
				t.Fatalf("bad write accepted: %+v", w)
			}
		}
		if p.SetnsFD >= 0 && p.SetnsFD <= 2 {
			t.Fatalf("fd %d accepted", p.SetnsFD)
		}
		if p.ErrorLog != "" && (len(p.ErrorLog) > nsenter.MaxPath || !strings.HasPrefix(p.ErrorLog, "/")) {
			t.Fatalf("bad error log accepted: %q", p.ErrorLog)
		}
	})
}

// The C stage's escaping of a runtime-log message: whatever the message
// (paths come from the engine and may hold quotes, backslashes, control
// bytes), the entry is one line and decodes back to the message, as JSON
// (go-runc) and as a Go/logrus quoted string; a buffer too small is refused,
// never overrun.
func FuzzLogQuote(f *testing.F) {
	f.Add("ima-hook: write /run/x: No such file or directory (errno 2); hint", 8192)
	f.Add("a\"b\\c\td\ne\x7f\x01ü", 16)
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, msg string, capacity int) {
		if strings.ContainsRune(msg, 0) || capacity < 1 || capacity > 1<<16 {
			return
		}
		q, ok := LogQuote(msg, capacity)
		if !ok {
			if len(msg) < capacity/6 {
				t.Fatalf("refused %q with room %d", msg, capacity)
			}
			return
		}
		if len(q) >= capacity || strings.ContainsAny(q, "\n\r") {
			t.Fatalf("quoted %q: %d bytes in %d, or not one line", q, len(q), capacity)
		}
		if !utf8.ValidString(msg) {
			return // JSON decoders substitute U+FFFD; nothing to compare
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+q+`"`), &back); err != nil || back != msg {
			t.Fatalf("JSON %q -> %q (%v), want %q", q, back, err, msg)
		}
		if back, err := strconv.Unquote(`"` + q + `"`); err != nil || back != msg {
			t.Fatalf("text %q -> %q (%v), want %q", q, back, err, msg)
		}
	})
}

// Any valid plan survives Go's encoding and C's decoding unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add("/proc/self/timens_offsets", "monotonic 1 0\nboottime 2 0", uint64(0x80), "/proc/1/ns/time", true)
	f.Add("/sys/kernel/security/ima/kcmd_for_children", "ima_policy=tcb", uint64(0x400000000), "", false)
	f.Fuzz(func(t *testing.T, path, data string, flags uint64, setns string, fork bool) {
		p := nsenter.StagePlan{Writes: []nsenter.Write{{Path: path, Data: data}}, Unshare: flags, SetnsPath: setns, Fork: fork, Exec: []string{"/bin/true"}}
		if p.Validate() != nil {
			return
		}
		got, err := ParseEnv(environ(t, p))
		if err != nil {
			t.Fatalf("valid plan refused by C: %v (%+v)", err, p)
		}
		if !reflect.DeepEqual(got.Writes, p.Writes) || got.Unshare != flags || got.SetnsPath != setns || got.Fork != fork {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, p)
		}
	})
}

// The hand-off request as Go encodes it is what the waiting parent's C
// parser reads, string for string; and the parser refuses anything else
// rather than reading past the request.
func FuzzHandOffRequest(f *testing.F) {
	f.Add("ima-hook-nsenter\x00/usr/sbin/runc\x00run", "PATH=/bin\x00_IMA_HOOK_NSENTER=2", []byte("2\x00a\x00b\x000\x00"))
	f.Add("a\x00b", "", []byte("1\x00a\x000\x00"))
	f.Add("a\x00b", "x=1", []byte("2\x00a\x00b\x001\x00x"))
	f.Add("", "", []byte("99999999999999999999\x00"))
	f.Fuzz(func(t *testing.T, argvs, envs string, raw []byte) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\x00")
		}
		argv, env := split(argvs), split(envs)
		if req := nsenter.EncodeRequest(argv, env); req != nil && len(argv) >= 2 {
			gotArgv, gotEnv, err := ParseRequest(req)
			if err != nil {
				t.Fatalf("%q: refused: %v", req, err)
			}
			if !reflect.DeepEqual(gotArgv, argv) || len(gotEnv) != len(env) || (len(env) > 0 && !reflect.DeepEqual(gotEnv, env)) {
				t.Fatalf("%q: parsed %q %q, want %q %q", req, gotArgv, gotEnv, argv, env)
			}
		}
		// Arbitrary bytes: refused, or exactly the strings they hold.
		gotArgv, gotEnv, err := ParseRequest(raw)
		if err != nil {
			return
		}
		if re := nsenter.EncodeRequest(gotArgv, gotEnv); !bytes.Equal(re, raw) {
			t.Fatalf("%q parsed as %q %q, which encode as %q", raw, gotArgv, gotEnv, re)
		}
	})
}
