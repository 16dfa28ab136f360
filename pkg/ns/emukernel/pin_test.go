//go:build imaemu

package emukernel

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// A bind mount of /proc/<pid>/ns/ima holds a reference on the namespace
// (nsfs keeps the ns_common while the mount exists): the namespace outlives
// its last task, and ns_alloc_inum does not hand its id out again until
// the umount; a task can setns into it through the pin file (imans_install
// activates nothing: it is already active).
func TestPinKeepsANamespaceAndItsIDUntilUnpin(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	if _, _, err := k.TaskNamespaces(c); err != nil {
		t.Fatal(err)
	}
	if added, err := k.Measure(c, "/inside", "sha256", sha("inside"), false); err != nil || !added {
		t.Fatalf("measure: %v %v", added, err)
	}
	pinPath := filepath.Join(t.TempDir(), "pin")
	// The mount point must exist (mount(2) does not create it).
	_, err = k.Pin(c, pinPath)
	wantErrno(t, err, unix.ENOENT)
	if err := os.WriteFile(pinPath, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Pin(c, pinPath); err != nil || got != id {
		t.Fatalf("pin: %d %v, want %d", got, err, id)
	}
	_, err = k.Pin(c, pinPath)
	wantErrno(t, err, unix.EBUSY)

	// Every task leaves: the child dies, the unsharer goes home.
	kill(t, c)
	if err := k.Setns(self(), InitialNS, true); err != nil {
		t.Fatal(err)
	}
	if used, err := k.InUse(); err != nil || contains(used, id) {
		t.Fatalf("in use %v %v after every task left", used, err)
	}
	// Still there, and its id is not reused.
	other, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	if other == id {
		t.Fatalf("the pinned namespace's id %d was handed out again", id)
	}
	// Joining through the pin shows the namespace's own view.
	reader := child(t)
	if _, _, err := k.TaskNamespaces(reader); err != nil {
		t.Fatal(err)
	}
	if got, err := k.SetnsPinned(reader, pinPath, true); err != nil || got != id {
		t.Fatalf("setns through the pin: %d %v", got, err)
	}
	view, err := k.Entries(reader)
	if err != nil || len(view) != 2 || view[1].Name != "/inside" {
		t.Fatalf("view through the pin %+v %v", view, err)
	}
	kill(t, reader)

	// A file replaced under the pin's name is not the pin.
	if err := os.Rename(pinPath, pinPath+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pinPath, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	_, err = k.PinnedNS(pinPath)
	wantErrno(t, err, unix.EINVAL)

	// umount: the namespace dies, its id is free again.
	if err := k.Unpin(pinPath); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, k.Unpin(pinPath), unix.EINVAL)
	if err := k.Setns(self(), InitialNS, true); err != nil { // frees the pending "other"
		t.Fatal(err)
	}
	again, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	if again != id {
		t.Fatalf("after the unpin the lowest free id %d was not reused (got %d)", id, again)
	}
}

// ns_template: the newest openEuler ima_ns.c logs a namespace's entries
// and its ns_aggregate with ima_template_desc_current(), the host's
// template. With the host on ima-ng no entry carries the namespace id; the
// namespace's own view is still filtered by the entry's internal ns_id
// (ima_measurements_start/next in RFC 14), so it is the same either way.
func TestNSTemplateSwitch(t *testing.T) {
	for _, mode := range []string{NSTemplateKcmd, NSTemplateHost} {
		t.Run(mode, func(t *testing.T) {
			sw := DefaultSwitches()
			sw.NSTemplate = mode
			k := newKernel(t, sw)
			id, err := k.Unshare(self())
			if err != nil {
				t.Fatal(err)
			}
			if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
				t.Fatal(err)
			}
			c := child(t)
			if _, _, err := k.TaskNamespaces(c); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Measure(c, "/bin/app", "sha256", sha("app"), false); err != nil {
				t.Fatal(err)
			}
			want := "ima-ns"
			if mode == NSTemplateHost {
				want = "ima-ng"
			}
			view, err := k.Entries(c)
			if err != nil || len(view) != 2 {
				t.Fatalf("own view %+v %v", view, err)
			}
			for _, e := range view {
				if e.Template != want || e.NS != id {
					t.Fatalf("entry %+v: want template %s, internal ns %d", e, want, id)
				}
			}
			if got, err := k.HostTemplate(); err != nil || got != want {
				t.Fatalf("host template %q %v, want %s", got, err, want)
			}
		})
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestNSTemplateSwitchValues(t *testing.T) {
	for v, ok := range map[string]bool{`"kcmd"`: true, `"host"`: true, `"ima-ng"`: false, `1`: false} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SwitchesFile), []byte(`{"ns_template":`+v+`}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSwitches(dir); (err == nil) != ok {
			t.Errorf("ns_template %s: %v", v, err)
		}
	}
	if DefaultSwitches().NSTemplate != NSTemplateKcmd {
		t.Fatal("the default is not kcmd")
	}
}

// exit_task_namespaces drops a task's namespaces when it exits, before its
// parent reaps it: a zombie keeps no namespace alive (here the parent, the
// test process, has not waited yet).
func TestZombieHoldsNoNamespace(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if _, _, err := k.TaskNamespaces(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := k.Setns(self(), InitialNS, true); err != nil {
		t.Fatal(err)
	}
	if used, _ := k.InUse(); !contains(used, id) {
		t.Fatal("not in use while its task lives")
	}
	cmd.Process.Kill()
	for i := 0; i < 200; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if used, err := k.InUse(); err != nil || contains(used, id) {
		t.Fatalf("a zombie keeps namespace %d in use (%v)", id, err)
	}
}

func contains(ids []imansid.ID, id imansid.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
