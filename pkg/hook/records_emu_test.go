//go:build imaemu

package hook

import (
	"os"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/internal/userror"

	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// createRuntime records the life and the engine's names, and a record that
// an earlier container with the id left live is archived, not overwritten.
func TestCreateRuntimeKeepsALeftBehindRecord(t *testing.T) {
	e := setup(t)
	left := record.Record{ContainerID: "cl", Life: "earlier-life", NS: 1234, Result: "applied", AggregateIndex: -1}
	if err := e.hook.Store.WriteLive(left); err != nil {
		t.Fatal(err)
	}
	pid := e.container("cl", "", true)
	err := e.hook.CreateRuntime(state("cl", pid, map[string]string{
		config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK mask=MAY_EXEC",
		"io.kubernetes.cri.container-name": "web", "io.kubernetes.cri.sandbox-name": "shop", "io.kubernetes.cri.sandbox-namespace": "default"}))
	if err != nil {
		t.Fatal(err)
	}
	lives, err := e.hook.Store.Lives("cl")
	if err != nil {
		t.Fatal(err)
	}
	if len(lives) != 2 {
		t.Fatalf("want the left-behind life and the new one, got %+v", lives)
	}
	old, cur := lives[0], lives[1]
	if old.Live || old.Life != "earlier-life" || old.NS != 1234 || old.Archived != record.LeftBehind {
		t.Fatalf("left-behind record %+v", old)
	}
	if !cur.Live || cur.Life == "" || cur.Life == old.Life || cur.Result != "applied" ||
		len(cur.Names) != 2 || cur.Names[0] != "web" || cur.Names[1] != "default/shop/web" {
		t.Fatalf("new record %+v", cur.Record)
	}
}

// latestView is the measurement view archived with id's latest life.
func latestView(t *testing.T, s record.Store, id string) string {
	t.Helper()
	lives, err := s.Lives(id)
	if err != nil {
		t.Fatal(err)
	}
	return lives[len(lives)-1].ViewPath()
}

// When the record an earlier container left live cannot be archived, the
// new container is refused in one line and the old record stays.
func TestCreateRuntimeRefusesRatherThanOverwrite(t *testing.T) {
	e := setup(t)
	left := record.Record{ContainerID: "ck", Life: "earlier-life", NS: 1234, Result: "applied", AggregateIndex: -1}
	if err := e.hook.Store.WriteLive(left); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.hook.Store.ArchiveDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	pid := e.container("ck", "", true)
	err := e.hook.CreateRuntime(state("ck", pid, map[string]string{
		config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK mask=MAY_EXEC"}))
	line := userror.Line(err)
	if err == nil || !strings.Contains(line, "kept") || !strings.Contains(line, e.hook.Store.RunDir+" and "+e.hook.Store.ArchiveDir+" are writable") || strings.Count(line, "\n") > 0 {
		t.Fatalf("want a one-line refusal that keeps the old record, got %q", line)
	}
	got, err := e.hook.Store.ReadLive("ck")
	if err != nil || got.Life != "earlier-life" || got.NS != 1234 {
		t.Fatalf("the earlier record was replaced: %+v %v", got, err)
	}
}
