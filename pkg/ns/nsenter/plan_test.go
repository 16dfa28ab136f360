package nsenter

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidate(t *testing.T) {
	ok := []StagePlan{
		{Stage: "populate", SetnsPath: "/proc/1/ns/ima"},
		{Stage: "x", SetnsFD: 3},
		{Exec: []string{"/usr/sbin/runc", "create"}, Fork: true, Unshare: 0x400000000,
			Writes:   []Write{{"/sys/kernel/security/ima/kcmd_for_children", "ima_policy=tcb"}},
			NSIDLink: "/proc/self/ns/ima_for_children", NSIDFile: "/run/ima-hook/created/c1.nsid"},
		{Exec: []string{"/bin/true"}, Writes: []Write{{"/x", strings.Repeat("a", MaxData)}}},
	}
	for i, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := map[string]StagePlan{
		"neither exec nor stage": {},
		"both exec and stage":    {Stage: "s", Exec: []string{"/bin/true"}},
		"relative exec":          {Exec: []string{"runc"}},
		"fork without exec":      {Stage: "s", Fork: true},
		"unshare then Go":        {Stage: "s", Unshare: 1},
		"fd 2":                   {Stage: "s", SetnsFD: 2},
		"negative fd":            {Stage: "s", SetnsFD: -1},
		"path and fd":            {Stage: "s", SetnsFD: 3, SetnsPath: "/proc/1/ns/ima"},
		"relative setns":         {Stage: "s", SetnsPath: "proc/1/ns/ima"},
		"data of a page":         {Exec: []string{"/bin/true"}, Writes: []Write{{"/x", strings.Repeat("a", MaxData+1)}}},
		"too many writes":        {Exec: []string{"/bin/true"}, Writes: make([]Write, MaxWrites+1)},
		"relative write":         {Exec: []string{"/bin/true"}, Writes: []Write{{"x", "y"}}},
		"long path":              {Exec: []string{"/bin/true"}, Writes: []Write{{"/" + strings.Repeat("a", MaxPath), "y"}}},
		"link without file":      {Exec: []string{"/bin/true"}, NSIDLink: "/proc/self/ns/ima_for_children"},
		"bad stage":              {Stage: "a b"},
		"long stage":             {Stage: strings.Repeat("s", MaxStage+1)},
		"NUL in argv":            {Exec: []string{"/bin/true", "a\x00b"}},
		"NUL in env":             {Exec: []string{"/bin/true"}, Env: []string{"A=\x00"}},
		"relative error log":     {Exec: []string{"/bin/true"}, ErrorLog: "log.json"},
	}
	for name, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrPlan) {
			t.Errorf("%s: %v, want ErrPlan", name, err)
		}
	}
}

// What Go encodes, C decodes to the same plan.
func TestEncodingRoundTrip(t *testing.T) {
	for _, p := range []StagePlan{
		{Stage: "populate", SetnsPath: "/proc/42/ns/ima"},
		{Stage: "s_2-x", SetnsFD: 7},
		{Exec: []string{"/usr/sbin/runc"}, Fork: true, Unshare: 0x400000000,
			Writes: []Write{
				{"/sys/kernel/security/ima/kcmd_for_children", "ima_policy=tcb ima_appraise=fix"},
				{"/sys/kernel/security/ima/x509_for_children", "/etc/ima-hook/keys/a b:c.der"},
				{"/bin/binary", "\x00\x01\xff\n=:"},
				{"/empty", ""},
			},
			NSIDLink: "/proc/self/ns/ima_for_children", NSIDFile: "/run/ima-hook/created/c.nsid"},
		{Exec: []string{"/usr/sbin/runc"}, ErrorLog: "/run/containerd/x/log.json", ErrorLogJSON: true},
		{Stage: "s", ErrorLog: "/var/log/runc.log"},
	} {
		got, err := parseEnv(p.environ())
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		want := parsed{Active: true, SetnsPath: p.SetnsPath, SetnsFD: p.SetnsFD, Unshare: p.Unshare,
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
	env := StagePlan{Stage: "s", Env: []string{"A=1", "_IMA_HOOK_NSENTER_FORK=1", "_IMA_HOOK_NSENTER=9"}}.environ()
	got, err := parseEnv(env)
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
		"write big":    {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=" + strings.Repeat("61", MaxData+1) + ":/x"}, "under 4096"},
		"write path":   {[]string{base, "_IMA_HOOK_NSENTER_WRITE_0=61:x"}, "absolute path"},
		"nine writes":  {append([]string{base}, nineWrites()...), "too many writes"},
		"link only":    {[]string{base, "_IMA_HOOK_NSENTER_NSID_LINK=/x"}, "both"},
		"fork 2":       {[]string{base, "_IMA_HOOK_NSENTER_FORK=2"}, "want 1"},
		"stage chars":  {[]string{base, "_IMA_HOOK_NSENTER_STAGE=a/b"}, "[A-Za-z0-9_-]"},
		"stage empty":  {[]string{base, "_IMA_HOOK_NSENTER_STAGE="}, "1 to 64"},
		"path too big": {[]string{base, "_IMA_HOOK_NSENTER_SETNS_PATH=/" + strings.Repeat("a", MaxPath)}, "at most 4096"},
		"log format":   {[]string{base, "_IMA_HOOK_NSENTER_ERRLOG=xml:/l"}, "json:<path> or text:<path>"},
		"log relative": {[]string{base, "_IMA_HOOK_NSENTER_ERRLOG=json:l"}, "absolute path"},
	} {
		_, err := parseEnv(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// No marker: inactive, whatever else is there.
	if p, err := parseEnv([]string{"_IMA_HOOK_NSENTER_FORK=1", "_IMA_HOOK_NSENTERX=1"}); err != nil || p.Active {
		t.Errorf("without the marker: %+v %v", p, err)
	}
}

func nineWrites() []string {
	var w []string
	for i := range MaxWrites + 1 {
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
		p, err := parseEnv(env)
		if err != nil {
			return
		}
		if len(p.Writes) > MaxWrites || len(p.Stage) > MaxStage || len(p.SetnsPath) > MaxPath {
			t.Fatalf("bounds exceeded: %+v", p)
		}
		for _, w := range p.Writes {
			if len(w.Data) > MaxData || !strings.HasPrefix(w.Path, "/") {
				t.Fatalf("bad write accepted: %+v", w)
			}
		}
		if p.SetnsFD >= 0 && p.SetnsFD <= 2 {
			t.Fatalf("fd %d accepted", p.SetnsFD)
		}
		if p.ErrorLog != "" && (len(p.ErrorLog) > MaxPath || !strings.HasPrefix(p.ErrorLog, "/")) {
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
		q, ok := logQuote(msg, capacity)
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
		p := StagePlan{Writes: []Write{{path, data}}, Unshare: flags, SetnsPath: setns, Fork: fork, Exec: []string{"/bin/true"}}
		if p.Validate() != nil {
			return
		}
		got, err := parseEnv(p.environ())
		if err != nil {
			t.Fatalf("valid plan refused by C: %v (%+v)", err, p)
		}
		if !reflect.DeepEqual(got.Writes, p.Writes) || got.Unshare != flags || got.SetnsPath != setns || got.Fork != fork {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, p)
		}
	})
}
