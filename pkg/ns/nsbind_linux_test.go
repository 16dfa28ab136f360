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

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
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
		ns   imansid.ID
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

// A pin must not outlive its release in mount namespaces created while it
// existed (containers, systemd services with private mounts): each holds a
// copy of the bind mount, and a copy keeps the namespace alive. Whatever
// the propagation the new mount namespace chose, after the release no
// mount of the namespace is left in it.
func TestPinReleasedInLaterMountNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	holder := exec.Command("/bin/sh", "-c", "echo ready && exec sleep 300")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Skipf("cannot create a UTS namespace here: %v", err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	nsFile, err := os.Open("/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(nsFile.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	nsName := "uts:[" + strconv.FormatUint(st.Ino, 10) + "]"
	path := filepath.Join(t.TempDir(), "ns", "ctr-"+strconv.FormatUint(st.Ino, 10))
	if err := bindNamespace(nsFile, path); err != nil {
		t.Fatal(err)
	}
	nsFile.Close()
	defer unbindNamespace(path)
	holder.Process.Kill()
	holder.Wait()

	// Mount namespaces created after the pin: as runc's and systemd's
	// (slave), util-linux unshare's default (private), and a plain clone
	// (the parent's propagation as it is).
	later := map[string]*exec.Cmd{
		"slave":   exec.Command("unshare", "-m", "--propagation", "slave", "sleep", "300"),
		"private": exec.Command("unshare", "-m", "--propagation", "private", "sleep", "300"),
		"clone":   exec.Command("sleep", "300"),
	}
	later["clone"].SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	for name, c := range later {
		if err := c.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(c)
	}
	// Each holds the namespace through its copy of the pin (the sleep of
	// unshare runs once the mount namespace is set up).
	for name, c := range later {
		ok := false
		for i := 0; i < 200 && !ok; i++ {
			ok = holdsNamespace(t, c.Process.Pid, nsName)
			if !ok {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !ok {
			t.Fatalf("%s: the mount namespace has no copy of the pin (test set-up)", name)
		}
	}
	if err := unbindNamespace(path); err != nil {
		t.Fatal(err)
	}
	for name, c := range later {
		if holdsNamespace(t, c.Process.Pid, nsName) {
			t.Errorf("%s: the mount namespace still holds %s after the release: the pin never lets go", name, nsName)
		}
	}
}

// holdsNamespace reports whether pid's mount namespace has a mount of the
// namespace file nsName ("uts:[4026532329]": mountinfo's root field).
func holdsNamespace(t *testing.T, pid int, nsName string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[3] == nsName {
			return true
		}
	}
	return false
}
