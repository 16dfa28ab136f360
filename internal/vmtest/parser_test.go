package vmtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

const tok = "0123456789abcdef"

func parse(t *testing.T, console string) (*parser, error) {
	t.Helper()
	p := newParser(tok)
	err := p.consume(strings.NewReader(console))
	if err != nil && err.Error() == "EOF" {
		err = nil
	}
	return p, err
}

func TestParserExportAndExit(t *testing.T) {
	data := bytes.Repeat([]byte{0, 1, 2, 0xff, '\n', '\r'}, 100)
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 { // busybox base64 wraps at 76 columns
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	lines = append(lines, enc)
	console := "[    1.0] kernel says hi\n" +
		"@@VMTEST:" + tok + ":START@@\r\n" +
		"script output\n" +
		"@@VMTEST:" + tok + ":BEGIN:blob@@\n" + strings.Join(lines, "\r\n") + "\n" +
		"@@VMTEST:" + tok + ":END:blob:0@@\n" +
		"@@VMTEST:" + tok + ":BEGIN:empty@@\n" +
		"@@VMTEST:" + tok + ":END:empty:0@@\n" +
		"partial line without newline@@VMTEST:" + tok + ":EXIT:3@@\n" +
		"[    2.0] reboot: Power down\n"
	p, err := parse(t, console)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.files["blob"], data) {
		t.Errorf("blob = %d bytes, want %d", len(p.files["blob"]), len(data))
	}
	if e, ok := p.files["empty"]; !ok || len(e) != 0 {
		t.Errorf("empty export = %q, %v", e, ok)
	}
	if !p.exited || p.exitCode != 3 {
		t.Errorf("exited=%v code=%d, want exit 3", p.exited, p.exitCode)
	}
	c := p.console.String()
	for _, want := range []string{"kernel says hi", "script output", "partial line without newline", "[vmtest: exported blob, 600 bytes]", "Power down"} {
		if !strings.Contains(c, want) {
			t.Errorf("console lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, lines[0]) {
		t.Errorf("payload leaked into console")
	}
}

func TestParserRejects(t *testing.T) {
	m := func(s string) string { return "@@VMTEST:" + tok + ":" + s + "@@\n" }
	cases := map[string]string{
		"bad base64":       m("BEGIN:x") + "!!!!\n" + m("END:x:0"),
		"nested begin":     m("BEGIN:x") + m("BEGIN:y"),
		"end without name": m("BEGIN:x") + m("END:y:0"),
		"unknown marker":   m("BOGUS"),
		"bad exit code":    m("EXIT:abc"),
	}
	for name, console := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parse(t, console)
			if err == nil || !strings.Contains(err.Error(), "console line") {
				t.Fatalf("err = %v, want an error naming the console line", err)
			}
		})
	}
}

// The kernel prints on the same UART whenever it likes: its text can be
// spliced right after a marker, before the newline. The marker still counts
// and the kernel's text stays console output.
func TestParserKernelTextAfterMarker(t *testing.T) {
	m := func(s string) string { return "@@VMTEST:" + tok + ":" + s + "@@" }
	kernel := "[    2.137925] tsc: Refined TSC clocksource calibration: 2596.107 MHz"
	p, err := parse(t, m("START")+kernel+"\n"+m("EXIT:0")+kernel+"\n")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if !p.exited || p.exitCode != 0 {
		t.Fatalf("exited=%v code=%d, want the EXIT marker read", p.exited, p.exitCode)
	}
	if c := p.console.String(); strings.Count(c, kernel) != 2 {
		t.Fatalf("console = %q, want the kernel's line twice", c)
	}
}

// A marker with another run's token is plain console text: the script
// cannot forge results by printing marker-like lines.
func TestParserIgnoresForeignToken(t *testing.T) {
	p, err := parse(t, "@@VMTEST:ffffffffffffffff:EXIT:0@@\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.exited {
		t.Fatal("foreign token accepted")
	}
}

func TestParserFailedExportAndSetupFailure(t *testing.T) {
	m := func(s string) string { return "@@VMTEST:" + tok + ":" + s + "@@\n" }
	p, err := parse(t, m("BEGIN:x")+m("END:x:1")+m("FAIL:insmod /lib/modules/ext4.ko"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.files["x"]; ok {
		t.Error("failed export kept")
	}
	if p.failMsg != "insmod /lib/modules/ext4.ko" {
		t.Errorf("failMsg = %q", p.failMsg)
	}
}

func TestBoundedBuffer(t *testing.T) {
	var b boundedBuffer
	b.max = 10
	b.WriteString("0123456789abc")
	if got := b.String(); !strings.HasPrefix(got, "0123456789\n") || !strings.Contains(got, "truncated") {
		t.Fatalf("got %q", got)
	}
}

func TestBuildInitramfsRejectsBadFiles(t *testing.T) {
	if _, err := staticBusybox(); err != nil {
		t.Skip(err)
	}
	for _, f := range []File{
		{Path: "relative"},
		{Path: "/a/../b"},
		{Path: "/init"},
		{Path: "/vmtest/lib.sh"},
		{Path: "/x", Xattrs: map[string][]byte{"security.ima; reboot": {1}}},
	} {
		dir := t.TempDir()
		err := buildInitramfs(dir+"/i.cpio", dir+"/root", "", tok, Options{Files: []File{f}})
		if err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

func TestRunHonoursCancelledContext(t *testing.T) {
	skipUnlessVM(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{Script: "true"}); err == nil {
		t.Fatal("Run with a cancelled context succeeded")
	}
}

func FuzzConsoleParser(f *testing.F) {
	m := func(s string) string { return "@@VMTEST:" + tok + ":" + s + "@@\n" }
	f.Add(m("START") + m("BEGIN:a") + "aGVsbG8=\n" + m("END:a:0") + m("EXIT:0"))
	f.Add(m("BEGIN:a") + m("END:a:1") + m("FAIL:x"))
	f.Add("x" + m("EXIT:-1") + "\r\n\r\n")
	f.Fuzz(func(t *testing.T, console string) {
		p := newParser(tok)
		_ = p.consume(strings.NewReader(console))
		if p.console.buf.Len() > MaxConsole {
			t.Fatalf("console grew past MaxConsole")
		}
		if len(p.files) > MaxFiles {
			t.Fatalf("%d files", len(p.files))
		}
	})
}

func TestGuestSlots(t *testing.T) {
	t.Setenv("IMA_HOOK_VM_CACHE", t.TempDir())
	t.Setenv("IMA_HOOK_VM_PARALLEL", "1")
	release, err := acquireSlot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := acquireSlot(ctx); err == nil || !strings.Contains(err.Error(), "guest slot") {
		t.Fatalf("second slot: err = %v, want a wait error", err)
	}
	release()
	release2, err := acquireSlot(context.Background())
	if err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
	release2()
}
