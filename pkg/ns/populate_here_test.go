package ns

import (
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// recordingSecfs is a namespace's securityfs that records the order of
// what populate does in it.
type recordingSecfs struct {
	id      imansid.ID
	calls   []string
	keys    []uint32
	agg     bool
	keyErr  error
	ruleErr error
}

func (r *recordingSecfs) self() (imansid.ID, error) { return r.id, nil }
func (r *recordingSecfs) writePolicy(rules []string, path string) (int, error) {
	r.calls = append(r.calls, "policy")
	if r.ruleErr != nil {
		return 1, r.ruleErr
	}
	if path != "" {
		return 1, nil
	}
	return len(rules), nil
}
func (r *recordingSecfs) addKey(der []byte, keyring string) (int32, error) {
	r.calls = append(r.calls, "key "+keyring)
	r.keys = append(r.keys, 0xaabbccdd)
	return 77, r.keyErr
}
func (r *recordingSecfs) keyIDs(string) ([]uint32, error) {
	r.calls = append(r.calls, "list keys")
	return r.keys, nil
}
func (r *recordingSecfs) counter(name string) (uint64, error) {
	return map[string]uint64{"runtime_measurements_count": 5, "violations": 1}[name], nil
}
func (r *recordingSecfs) hasAggregate(id imansid.ID) (bool, error) { return r.agg && id == r.id, nil }

// The populate stage's logic, under a plain go test: the key before the
// policy that may appraise with it, the keyring listed after both, the
// counters and the aggregate read last; the host's namespace and a
// recycled pid's are refused before anything is written.
func TestPopulateHere(t *testing.T) {
	fs := &recordingSecfs{id: 4026532329, agg: true}
	res, err := populateHere(fs, PopulateRequest{PolicyRules: []string{"measure func=BPRM_CHECK", "appraise func=BPRM_CHECK"},
		KeyDER: []byte("der"), Keyring: ".ima", Expect: 4026532329, ListKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	want := PopulateResult{NS: 4026532329, RulesWritten: 2, KeySerial: 77, MeasurementCount: 5, Violations: 1, AggregatePresent: true, KeyIDs: []uint32{0xaabbccdd}}
	if !reflect.DeepEqual(res, want) || !reflect.DeepEqual(fs.calls, []string{"key .ima", "policy", "list keys"}) {
		t.Fatalf("result %+v calls %q", res, fs.calls)
	}

	// A policy file counts as one write; no key asked for, none listed
	// (an empty list, not nil, when asked).
	fs = &recordingSecfs{id: 4026532329}
	res, err = populateHere(fs, PopulateRequest{PolicyPath: "/run/ima-hook/p", ListKeys: true})
	if err != nil || res.RulesWritten != 1 || res.KeyIDs == nil || len(res.KeyIDs) != 0 || res.AggregatePresent {
		t.Fatalf("policy file: %+v %v", res, err)
	}

	for name, tc := range map[string]struct {
		fs   *recordingSecfs
		req  PopulateRequest
		want string
	}{
		"host namespace": {&recordingSecfs{id: imansid.Initial}, PopulateRequest{PolicyRules: []string{"measure"}}, "in the host's initial IMA namespace"},
		"recycled pid":   {&recordingSecfs{id: 4026532400}, PopulateRequest{PolicyRules: []string{"measure"}, Expect: 4026532329}, "entered namespace 4026532400 but expected 4026532329"},
		"key refused":    {&recordingSecfs{id: 4026532329, keyErr: syscall.EKEYREJECTED}, PopulateRequest{KeyDER: []byte("der"), PolicyRules: []string{"measure"}}, "key was rejected"},
		"policy refused": {&recordingSecfs{id: 4026532329, ruleErr: syscall.EINVAL}, PopulateRequest{PolicyRules: []string{"a", "b"}}, "invalid argument"},
	} {
		_, err := populateHere(tc.fs, tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		switch name {
		case "host namespace", "recycled pid":
			if len(tc.fs.calls) != 0 {
				t.Errorf("%s: wrote %q", name, tc.fs.calls)
			}
		case "key refused":
			if !reflect.DeepEqual(tc.fs.calls, []string{"key "}) || !errors.Is(err, syscall.EKEYREJECTED) {
				t.Errorf("%s: calls %q (the policy must not go in without its key), err %v", name, tc.fs.calls, err)
			}
		}
	}
}
