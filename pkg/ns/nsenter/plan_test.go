package nsenter

import (
	"errors"
	"strings"
	"testing"
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
