package measure_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
)

func TestAllowlist(t *testing.T) {
	d1 := bytes.Repeat([]byte{0x11}, 32)
	d2 := bytes.Repeat([]byte{0x22}, 32)
	policy := `{
  "meta": {"version": 1, "generator": 0},
  "release": 0,
  "digests": {
    "/usr/bin/bash": ["` + hexs(d1) + `"],
    "/opt/my app/run": ["` + strings.ToUpper(hexs(d2)) + `"],
    "boot_aggregate": ["` + hexs(d2) + `"]
  },
  "excludes": ["/tmp/.*", "/var/log/"],
  "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null}, "ima-buf": {}
}`
	a, err := measure.ParseAllowlist(strings.NewReader(policy), "policy.json")
	if err != nil {
		t.Fatal(err)
	}
	ent := func(name string, d []byte) *measure.Entry {
		e, err := measure.NewNSEntry(10, "sha256", d, name, 1)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	viol, _ := measure.NewViolation(10, "ima-ns", "/usr/bin/evil", 1)
	agg, _ := measure.NewNSAggregate(7, "ima-ns")
	buf, _ := measure.NewEntry(10, "ima-buf", []measure.Field{{Data: append([]byte("sha256:\x00"), d1...)}, {Data: []byte(".ima\x00")}, {Data: []byte{1, 2}}})
	for _, c := range []struct {
		e    *measure.Entry
		want measure.AllowStatus
	}{
		{ent("/usr/bin/bash", d1), measure.AllowOK},
		{ent("/usr/bin/bash", d2), measure.AllowDigestMismatch},
		{ent("/opt/my app/run", d2), measure.AllowOK}, // logged as /opt/my_app/run
		{ent("/usr/bin/evil", d1), measure.AllowNotListed},
		{ent("/tmp/x", d1), measure.AllowExcluded},
		{ent("/var/log/syslog", d1), measure.AllowExcluded},
		{ent("/srv/var/log/x", d1), measure.AllowNotListed}, // excludes are anchored (re.match)
		{ent("boot_aggregate", d1), measure.AllowDigestMismatch},
		{viol, measure.AllowSkipped},
		{agg, measure.AllowSkipped},
		{buf, measure.AllowSkipped},
	} {
		if got := a.Check(c.e); got != c.want {
			t.Errorf("%q: %v, want %v", c.e.EventName(), got, c.want)
		}
	}
}

func TestAllowlistErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{"digests": {"/a": ["xyz"]}}`, "not a hex digest"},
		{`{"digests": {"/a": "00"}}`, "line 1, column"},
		{"{\n\"digests\": {,}}", "line 2, column"},
		{`{"excludes": ["(?=lookahead)"]}`, "excludes[0]"},
		{`{"meta": {"version": 2}}`, "newer"},
	} {
		_, err := measure.ParseAllowlist(strings.NewReader(c.text), "p.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.text, err, c.want)
		}
	}
}
