package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

var seeds = []string{"", "plain", `q"b\s`, "<a>&", "\b\f\n\r\t\x00\x1f\x7f", "é\u2028\u2029\U0001F600", "bad\xff\xc3", "\xed\xa0\x80"}

func check(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := Append(nil, []byte(s)); !bytes.Equal(got, want) {
		t.Fatalf("%q: got %s, encoding/json %s", s, got, want)
	}
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		check(t, s)
	}
	// Appends: what dst held stays.
	if got := string(Append([]byte("x:"), []byte("y"))); got != `x:"y"` {
		t.Errorf("got %s", got)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(check)
}
