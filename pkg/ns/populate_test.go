package ns

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/internal/userror"
)

type busySecfs struct {
	secfs
	opens int
}

func (b *busySecfs) writePolicy(rules []string, path string) (int, error) {
	b.opens++
	return 0, syscall.EBUSY
}

// A policy file that stays busy (ima_release_policy without
// CONFIG_IMA_WRITE_POLICY keeps IMA_FS_BUSY set) ends the retries in one
// line that names the kernel option and the fix.
func TestPolicyBusyRetriesEndInRefusal(t *testing.T) {
	old := PolicyBusyWait
	PolicyBusyWait = 100 * time.Millisecond
	defer func() { PolicyBusyWait = old }()
	fs := &busySecfs{}
	_, err := writePolicyRetrying(fs, []string{"measure func=BPRM_CHECK"}, "")
	line := userror.Line(err)
	for _, w := range []string{"EBUSY", "CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY", "CONFIG_IMA_WRITE_POLICY=y"} {
		if !strings.Contains(line, w) {
			t.Fatalf("%q lacks %q", line, w)
		}
	}
	if fs.opens < 2 {
		t.Fatalf("opened %d times: no retry", fs.opens)
	}
}
