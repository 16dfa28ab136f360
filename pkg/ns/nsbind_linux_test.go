//go:build linux

package ns

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The pin mechanics on this kernel, with a UTS namespace standing in for an
// IMA one (nsfs treats every namespace type alike): the bind mount keeps
// the namespace after its last task, shows its inode, can be joined, and
// the release leaves neither mount nor file.
func TestBindNamespaceKeepsItAfterItsLastTask(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter (util-linux) is not installed")
	}
	const name = "ima-hook-pin-test"
	cmd := exec.Command("/bin/sh", "-c", "hostname "+name+" && echo ready && exec sleep 300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot create a UTS namespace here: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	pid := cmd.Process.Pid
	nsFile, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(nsFile.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	ino := st.Ino

	path := filepath.Join(t.TempDir(), "pins", "ctr-"+strconv.FormatUint(ino, 10))
	if err := bindNamespace(nsFile, path); err != nil {
		t.Fatal(err)
	}
	nsFile.Close()
	defer unbindNamespace(path)
	// Never over an existing file.
	f2, _ := os.Open("/proc/self/ns/uts")
	if err := bindNamespace(f2, path); err == nil {
		t.Fatal("a second pin was made over the first")
	}
	f2.Close()
	if got, err := pinnedInode(path); err != nil || got != ino {
		t.Fatalf("pinned inode %d %v, want %d", got, err, ino)
	}
	if used, err := namespacesInUse("/proc", []string{"uts"}); err != nil || !used[ino] {
		t.Fatalf("in use %v %v while the child lives", used[ino], err)
	}

	cmd.Process.Kill()
	cmd.Wait()
	for i := 0; i < 100; i++ {
		if used, _ := namespacesInUse("/proc", []string{"uts"}); !used[ino] {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if used, err := namespacesInUse("/proc", []string{"uts"}); err != nil || used[ino] {
		t.Fatalf("in use %v %v after the last task died", used[ino], err)
	}
	// The namespace is still there, with the child's hostname: join it
	// through the pin, as the view stage does.
	got, err := exec.Command("nsenter", "--uts="+path, "hostname").Output()
	if err != nil || strings.TrimSpace(string(got)) != name {
		t.Fatalf("hostname through the pin: %q %v", got, err)
	}

	if err := unbindNamespace(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("pin file left: %v", err)
	}
	if mounted(t, path) {
		t.Fatal("the bind mount is still there")
	}
	// Releasing twice, or a bare placeholder (a crash between create and
	// mount), is fine.
	if err := unbindNamespace(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := pinnedInode(path); err == nil {
		t.Fatal("a bare placeholder was taken for a pin")
	}
	if err := unbindNamespace(path); err != nil {
		t.Fatal(err)
	}
}

func mounted(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

func TestPinNames(t *testing.T) {
	for _, c := range []struct {
		name string
		id   string
		ns   NSID
		ok   bool
	}{
		{"web-1-4026532329", "web-1", 4026532329, true},
		{"a-1", "a", 1, true},
		{"web", "", 0, false},
		{"-4026532329", "", 0, false},
		{"web-", "", 0, false},
		{"web-04026532329", "", 0, false},
		{"web-99999999999", "", 0, false},
		{"web-4026532329.view", "", 0, false},
		{".lock", "", 0, false},
	} {
		id, ns, ok := ParsePinName(c.name)
		if id != c.id || ns != c.ns || ok != c.ok {
			t.Errorf("%q: %q %d %v", c.name, id, ns, ok)
		}
		if ok && PinName(id, ns) != c.name {
			t.Errorf("%q does not round-trip", c.name)
		}
	}
}

func FuzzParsePinName(f *testing.F) {
	for _, s := range []string{"web-1-4026532329", "a-1", "-", "x-0", "x-4294967296", ".tmp-view-123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ns, ok := ParsePinName(s)
		if ok && PinName(id, ns) != s {
			t.Fatalf("%q parses to %q %d, which names %q", s, id, ns, PinName(id, ns))
		}
	})
}
