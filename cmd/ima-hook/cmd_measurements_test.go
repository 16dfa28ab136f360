package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
	"github.com/ima-hook/ima-hook/pkg/record"
)

type listFiles struct {
	dir, bin, ascii, pcr1, pcr256 string
	res                           *listgen.Result
}

func writeList(t *testing.T, spec listgen.Spec) listFiles {
	t.Helper()
	dir := t.TempDir()
	lf := listFiles{dir: dir, bin: filepath.Join(dir, "list.bin"), ascii: filepath.Join(dir, "ascii_runtime_measurements"),
		pcr1: filepath.Join(dir, "pcrs.sha1"), pcr256: filepath.Join(dir, "pcrs.sha256")}
	var bin, asc bytes.Buffer
	res, err := listgen.Generate(listgen.Writers{Binary: &bin, ASCII: &asc}, spec)
	if err != nil {
		t.Fatal(err)
	}
	lf.res = res
	must(t, os.WriteFile(lf.bin, bin.Bytes(), 0o644))
	must(t, os.WriteFile(lf.ascii, asc.Bytes(), 0o644))
	writePCRs(t, lf.pcr1, res.PCRs.Bank(measure.SHA1))
	writePCRs(t, lf.pcr256, res.PCRs.Bank(measure.SHA256))
	return lf
}

func writePCRs(t *testing.T, path string, b *measure.PCRBank) {
	var buf bytes.Buffer
	must(t, measure.WriteEvmctlPCRs(&buf, b))
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := measurementsMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func (lf listFiles) verifyArgs() []string {
	return []string{"--verify", "--pcrs", "sha1," + lf.pcr1, "--pcrs", "sha256," + lf.pcr256}
}

func TestMeasurementsListAndVerify(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 3000, Violations: 4, Namespaces: 4, Seed: 1})
	ascii, _ := os.ReadFile(lf.ascii)
	code, out, errs := run("--file", lf.bin)
	if code != 0 || out != string(ascii) || errs != "" {
		t.Fatalf("plain listing: code %d, stderr %q, output equal: %v", code, errs, out == string(ascii))
	}
	for _, file := range []string{lf.bin, lf.ascii} {
		code, out, errs = run(append([]string{"--file", file, "--format", "none"}, lf.verifyArgs()...)...)
		if code != 0 || out != "" || !strings.Contains(errs, "verification passed: 3000 entries") || !strings.Contains(errs, "PCR 10 sha1, PCR 10 sha256 match (per-bank rules)") {
			t.Fatalf("%s: code %d\n%s", file, code, errs)
		}
	}
}

func TestMeasurementsNamespaceView(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 3000, Namespaces: 4, Seed: 2})
	nss := lf.res.Namespaces
	reused := nss[0].ID // reused by nss[3]
	lines := func(out string) int { return strings.Count(out, "\n") }

	code, out, errs := run("--file", lf.bin, "--ns", fmt.Sprint(reused))
	if code != 0 || lines(out) != nss[3].Entries || !strings.Contains(out, "ns_aggregate_"+fmt.Sprint(reused)) {
		t.Fatalf("last incarnation: code %d, %d lines (want %d)\n%s", code, lines(out), nss[3].Entries, errs)
	}
	if !strings.Contains(errs, fmt.Sprintf("from entry %d (2 ns_aggregate entries", nss[3].AggregateIndex)) {
		t.Errorf("stderr %q", errs)
	}
	code, out, _ = run("--file", lf.bin, "--ns", fmt.Sprint(reused), "--incarnation", "1")
	if code != 0 || lines(out) != nss[0].Entries {
		t.Fatalf("first incarnation: %d lines, want %d", lines(out), nss[0].Entries)
	}
	code, out, _ = run("--file", lf.bin, "--ns", fmt.Sprint(reused), "--incarnation", "all")
	if code != 0 || lines(out) != nss[0].Entries+nss[3].Entries {
		t.Fatalf("all: %d lines", lines(out))
	}
	// The ascii file gives the same view.
	code, out2, _ := run("--file", lf.ascii, "--ns", fmt.Sprint(reused), "--incarnation", "all")
	if code != 0 || out2 != out {
		t.Fatal("ascii and binary views differ")
	}
	// Verification still replays the whole list.
	code, _, errs = run(append([]string{"--file", lf.bin, "--ns", fmt.Sprint(nss[1].ID), "--format", "none"}, lf.verifyArgs()...)...)
	if code != 0 || !strings.Contains(errs, "verification passed: 3000 entries") {
		t.Fatalf("code %d: %s", code, errs)
	}
}

func TestMeasurementsContainer(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 2000, Namespaces: 4, Seed: 3})
	ns := lf.res.Namespaces[0] // its id was reused: only the record's index tells them apart
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	must(t, store.WriteLive(record.Record{ContainerID: "web-1", NS: ns.ID, AggregateIndex: ns.AggregateIndex, Result: "applied"}))
	must(t, store.WriteLive(record.Record{ContainerID: "other-boot", NS: ns.ID, AggregateIndex: 5, Result: "applied"}))
	must(t, store.WriteLive(record.Record{ContainerID: "plain", Result: "skipped: no annotations", AggregateIndex: -1}))
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}

	code, out, errs := run(append([]string{"--file", lf.bin, "--container", "web-1"}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != ns.Entries {
		t.Fatalf("code %d, %d lines, want %d: %s", code, strings.Count(out, "\n"), ns.Entries, errs)
	}
	if !strings.Contains(errs, "container web-1 (namespace") {
		t.Errorf("stderr %q", errs)
	}
	// An archived record is found too.
	rec, err := store.ReadLive("web-1")
	must(t, err)
	_, err = store.Archive(rec, nil)
	must(t, err)
	must(t, store.RemoveLive("web-1", rec.Life))
	if code, out2, _ := run(append([]string{"--file", lf.bin, "--container", "web-1"}, dirs...)...); code != 0 || out2 != out {
		t.Fatalf("archived record: code %d", code)
	}
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "other-boot"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "ima-hook: --container other-boot: entry 5") || !strings.Contains(errs, "--incarnation") {
		t.Fatalf("record of another list: code %d %q", code, errs)
	}
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "plain"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "has no IMA namespace") {
		t.Fatalf("container without namespace: %d %q", code, errs)
	}
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "nope"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "no record of a container with this id, name or id prefix") {
		t.Fatalf("unknown container: %d %q", code, errs)
	}
}

func TestMeasurementsJSON(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 500, Violations: 2, Namespaces: 2, Seed: 4})
	ns := lf.res.Namespaces[1]
	code, out, errs := run(append([]string{"--file", lf.bin, "--ns", fmt.Sprint(ns.ID), "--format", "json"}, lf.verifyArgs()...)...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	var entries int
	var summary measure.Summary
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch obj["type"] {
		case "entry":
			entries++
			if obj["ns"] != float64(ns.ID) || obj["template"] != "ima-ns" || obj["template_ok"] == false {
				t.Fatalf("entry %v", obj)
			}
			fields := obj["fields"].([]any)
			if len(fields) != 3 || fields[2].(map[string]any)["id"] != "ns" {
				t.Fatalf("fields %v", fields)
			}
		case "summary":
			must(t, json.Unmarshal(sc.Bytes(), &summary))
		default:
			t.Fatalf("line %q", sc.Text())
		}
	}
	if entries != ns.Entries || summary.Schema != measure.JSONSchema || !summary.Passed || summary.Selected != int64(ns.Entries) ||
		summary.Verify == nil || !summary.Verify.Passed || summary.Verify.Covered != 500 || summary.Selection.NS != ns.ID {
		t.Fatalf("%d entries, summary %+v %+v", entries, summary, summary.Verify)
	}
}

func TestMeasurementsFailures(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 400, Seed: 5})
	data, _ := os.ReadFile(lf.bin)
	// Find entry 200's offset through the reader.
	r := measure.NewBinaryReader(bytes.NewReader(data), measure.ReadOptions{})
	var off int64
	var name string
	for i := 0; i <= 200; i++ {
		e, err := r.Next()
		must(t, err)
		off, name = e.Pos.Offset, e.EventName()
	}
	bad := bytes.Clone(data)
	bad[off+60] ^= 1 // inside the file digest
	badPath := filepath.Join(lf.dir, "bad.bin")
	must(t, os.WriteFile(badPath, bad, 0o644))
	code, _, errs := run(append([]string{"--file", badPath, "--format", "none"}, lf.verifyArgs()...)...)
	want := fmt.Sprintf("entry 200 (byte %d) %q: template digest", off, name)
	if code != 1 || !strings.Contains(errs, "verification FAILED") || !strings.Contains(errs, want) {
		t.Fatalf("code %d, want %q in\n%s", code, want, errs)
	}
	// Truncated inside entry 200.
	truncPath := filepath.Join(lf.dir, "trunc.bin")
	must(t, os.WriteFile(truncPath, data[:off+30], 0o644))
	code, out, errs := run("--file", truncPath)
	if code != 1 || strings.Count(out, "\n") != 200 || !strings.Contains(errs, "(entry 200)") || !strings.Contains(errs, "truncated") {
		t.Fatalf("truncated: code %d, %d lines, %q", code, strings.Count(out, "\n"), errs)
	}
	// PCRs of another list.
	other := writeList(t, listgen.Spec{Entries: 400, Seed: 6})
	code, _, errs = run("--file", lf.bin, "--format", "none", "--verify", "--pcrs", "sha1,"+other.pcr1)
	if code != 1 || !strings.Contains(errs, "no prefix of the list reproduces") {
		t.Fatalf("foreign PCRs: %d %s", code, errs)
	}
}

func TestMeasurementsAllowlist(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 300, Namespaces: 3, Seed: 7})
	ns := lf.res.Namespaces[1] // an id used once
	// Allow every file of the namespace but one.
	r := measure.NewBinaryReader(mustOpen(t, lf.bin), measure.ReadOptions{})
	digests := map[string][]string{}
	var skipped string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		if id, _ := e.NSID(); id != ns.ID || strings.HasPrefix(e.EventName(), "ns_aggregate") {
			continue
		}
		_, sum, _ := e.FileDigest()
		if skipped == "" {
			skipped = e.EventName()
			continue
		}
		digests[e.EventName()] = append(digests[e.EventName()], fmt.Sprintf("%x", sum))
	}
	policy, _ := json.Marshal(map[string]any{"meta": map[string]int{"version": 1}, "digests": digests})
	pp := filepath.Join(lf.dir, "policy.json")
	must(t, os.WriteFile(pp, policy, 0o644))
	code, _, errs := run("--file", lf.bin, "--ns", fmt.Sprint(ns.ID), "--allowlist", pp, "--format", "none")
	if code != 1 || !strings.Contains(errs, "allowlist: ") || !strings.Contains(errs, fmt.Sprintf("%q: allowlist: not-listed", skipped)) {
		t.Fatalf("code %d: %s", code, errs)
	}
	if !strings.Contains(errs, "1 flagged") {
		t.Errorf("stderr %s", errs)
	}
}

func mustOpen(t *testing.T, path string) io.Reader {
	data, err := os.ReadFile(path)
	must(t, err)
	return bytes.NewReader(data)
}

func TestMeasurementsPaddedVariant(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 300, Violations: 3, Seed: 8})
	// Reference values as a pre-5.8 kernel would have extended them.
	v, err := measure.NewVerifier(measure.VerifyOptions{Banks: []measure.Alg{measure.SHA1, measure.SHA256}, Variant: measure.VariantPadded})
	must(t, err)
	r := measure.NewBinaryReader(mustOpen(t, lf.bin), measure.ReadOptions{})
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		v.Add(e, false)
	}
	b := &measure.PCRBank{Alg: measure.SHA256}
	copy(b.Values[:10], lf.res.PCRs.Bank(measure.SHA256).Values[:10]) // behind the boot_aggregate
	for _, p := range v.Report().PCRs {
		if p.Alg == measure.SHA256 {
			b.Values[p.PCR] = p.Computed
		}
	}
	padded := filepath.Join(lf.dir, "pcrs.padded")
	writePCRs(t, padded, b)
	code, _, errs := run("--file", lf.bin, "--format", "none", "--verify", "--pcrs", "sha1,"+lf.pcr1, "--pcrs", "sha256,"+padded)
	if code != 0 || !strings.Contains(errs, "(padded rules)") {
		t.Fatalf("code %d: %s", code, errs)
	}
	code, _, _ = run("--file", lf.bin, "--format", "none", "--variant", "per-bank", "--verify", "--pcrs", "sha256,"+padded)
	if code != 1 {
		t.Fatalf("per-bank only accepted padded PCRs: %d", code)
	}
}

func TestMeasurementsUsage(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 50, Namespaces: 1, Seed: 9})
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--file", lf.bin, "--ns", "1", "--container", "x"}, "--container: given together with --ns"},
		{[]string{"--file", lf.bin, "--ns", "abc"}, "is not a namespace id"},
		{[]string{"--file", lf.bin, "--verify", "--pcrs", "md4,x"}, "--pcrs md4,x"},
		{[]string{"--file", lf.bin, "--verify", "--pcrs", "sha1," + lf.bin}, "PCR"},
		{[]string{"--file", filepath.Join(empty, "nope")}, "--file"},
		{[]string{"--file", lf.bin, "--verify", "--tpm", empty}, "--template-only"},
		{[]string{"--file", "-", "--ns", "5"}, "stdin"},
		{[]string{"--file", lf.bin, "--format", "yaml"}, "--format"},
		{[]string{"--file", lf.bin, "--incarnation", "0", "--ns", "1"}, "--incarnation"},
		{[]string{"--file", lf.bin, "extra"}, "unexpected argument"},
	} {
		code, _, errs := run(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || !strings.HasPrefix(errs, "ima-hook: ") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q (want one line with %q)", c.args, code, errs, c.want)
		}
	}
	code, _, errs := run("--file", lf.bin, "--verify", "--template-only", "--format", "none")
	if code != 0 || !strings.Contains(errs, "no reference PCRs") {
		t.Errorf("template-only: %d %s", code, errs)
	}
	if code, _, _ := run("--help"); code != 0 {
		t.Errorf("--help: %d", code)
	}
}

// A container stopped in an earlier boot: the host list has no aggregate at
// the record's index, so its view archived at poststop is read instead.
func TestMeasurementsArchivedView(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 600, Namespaces: 3, Seed: 10})
	ns := lf.res.Namespaces[1]
	saved := hostList
	defer func() { hostList = saved }()
	hostList = func() (string, func() (io.ReadCloser, error)) { return lf.bin, fileOpener(lf.bin) }

	// Its view, as poststop archives it.
	code, view, _ := run("--file", lf.bin, "--ns", fmt.Sprint(ns.ID))
	if code != 0 {
		t.Fatal(code)
	}
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	// Same boot: the host list is used (and can be verified).
	_, err := store.Archive(record.Record{ContainerID: "same", NS: ns.ID, AggregateIndex: ns.AggregateIndex, Result: "applied"}, strings.NewReader(view))
	must(t, err)
	code, out, errs := run(append([]string{"--container", "same"}, dirs...)...)
	if code != 0 || out != view || strings.Contains(errs, "archived") {
		t.Fatalf("same boot: %d %q", code, errs)
	}
	// Earlier boot: index 7 of this list is not its aggregate.
	_, err = store.Archive(record.Record{ContainerID: "old", NS: ns.ID, AggregateIndex: 7, Result: "applied"}, strings.NewReader(view))
	must(t, err)
	code, out, errs = run(append([]string{"--container", "old"}, dirs...)...)
	if code != 0 || out != view || !strings.Contains(errs, "earlier boot: reading the view archived at poststop") {
		t.Fatalf("earlier boot: code %d, same view %v, %q", code, out == view, errs)
	}
	code, _, errs = run(append([]string{"--container", "old", "--verify", "--pcrs", "sha1," + lf.pcr1}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "--template-only") {
		t.Fatalf("verify of an earlier boot: %d %q", code, errs)
	}
	code, _, errs = run(append([]string{"--container", "old", "--verify", "--template-only", "--format", "none"}, dirs...)...)
	if code != 0 || !strings.Contains(errs, fmt.Sprintf("verification passed: %d entries (ascii list", ns.Entries)) {
		t.Fatalf("template-only check of the archive: %d %q", code, errs)
	}
}

// The real capture (pkg/measure/testdata/qemu, Debian 6.1 under qemu with
// swtpm) through the command: binary and ascii lists verify against the
// captured PCRs, violations included.
func TestMeasurementsRealCapture(t *testing.T) {
	dir := filepath.Join("..", "..", "pkg", "measure", "testdata", "qemu")
	bins, _ := filepath.Glob(filepath.Join(dir, "*.binary_runtime_measurements"))
	if len(bins) == 0 {
		t.Skip("no real capture in pkg/measure/testdata/qemu (made by tests/vm/capture-measurements.sh)")
	}
	for _, bin := range bins {
		name := strings.TrimSuffix(filepath.Base(bin), ".binary_runtime_measurements")
		pcrs := []string{"--verify", "--pcrs", "sha1," + filepath.Join(dir, name+".pcrs-sha1"), "--pcrs", "sha256," + filepath.Join(dir, name+".pcrs-sha256")}
		for _, list := range []string{bin, filepath.Join(dir, name+".ascii_runtime_measurements")} {
			code, out, errs := run(append([]string{"--file", list, "--format", "json"}, pcrs...)...)
			if code != 0 || !strings.Contains(errs, "boot_aggregate ok") {
				t.Fatalf("%s: code %d: %s", list, code, errs)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var sum measure.Summary
			must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum))
			if !sum.Passed || sum.Verify.Covered != sum.Entries || int(sum.Entries) != len(lines)-1 {
				t.Fatalf("%s: %+v", list, sum.Verify)
			}
		}
	}
}

// A live record made by the wrapper carries the host list's length before
// the namespace was created: --container then picks the first aggregate of
// the id at or after it, not the last one (a later namespace reused the id).
func TestMeasurementsContainerListStart(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 2000, Namespaces: 4, Seed: 3})
	first, reuser := lf.res.Namespaces[0], lf.res.Namespaces[3]
	if first.ID != reuser.ID {
		t.Fatalf("generator did not reuse the id: %d %d", first.ID, reuser.ID)
	}
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	before := first.AggregateIndex // the list length the wrapper saw: the aggregate came right after
	must(t, store.WriteLive(record.Record{ContainerID: "old", NS: first.ID, AggregateIndex: -1, ListStart: &before, Result: "applied"}))
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	code, out, errs := run(append([]string{"--file", lf.bin, "--container", "old"}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != first.Entries {
		t.Fatalf("code %d, %d lines, want the first namespace's %d: %s", code, strings.Count(out, "\n"), first.Entries, errs)
	}
	// Without the note the last namespace with the id is shown.
	must(t, store.WriteLive(record.Record{ContainerID: "unknown", NS: first.ID, AggregateIndex: -1, Result: "applied"}))
	code, out, _ = run(append([]string{"--file", lf.bin, "--container", "unknown"}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != reuser.Entries {
		t.Fatalf("code %d, %d lines, want the last namespace's %d", code, strings.Count(out, "\n"), reuser.Entries)
	}
}

// An sm3_256 list and bank are verified (issue 13.1), and what cannot be
// verified is never a pass (issue 15.9): the verification says what it did
// not check and exits 1.
func TestMeasurementsVerifySM3AndUnchecked(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 50, Namespaces: 1, Seed: 23})
	data, _ := os.ReadFile(lf.bin)
	r := measure.NewBinaryReader(bytes.NewReader(data), measure.ReadOptions{})
	var sm3 []byte
	v, _ := measure.NewVerifier(measure.VerifyOptions{Banks: []measure.Alg{measure.SM3}, Variant: measure.VariantPerBank})
	var off7 int64
	for i := 0; ; i++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		v.Add(e, true)
		start := len(sm3)
		sm3 = measure.AppendBinary(sm3, e, measure.WriteOptions{Bank: measure.SM3})
		if i == 7 {
			sm3[start+4] ^= 1 // a wrong template digest
			off7 = int64(start)
		}
	}
	sm3Path := filepath.Join(lf.dir, "binary_runtime_measurements_sm3")
	must(t, os.WriteFile(sm3Path, sm3, 0o644))
	code, out, errs := run("--file", sm3Path, "--bank", "sm3_256", "--verify", "--template-only", "--format", "json")
	if code != 1 || !strings.Contains(errs, "verification FAILED: 50 entries (binary list, plain layout (detected), sm3 digests); 1 template digest mismatches") ||
		!strings.Contains(errs, fmt.Sprintf("entry 7 (byte %d)", off7)) || strings.Contains(errs, "NOT CHECKED") {
		t.Fatalf("sm3 list: code %d\n%s", code, errs)
	}
	var summary measure.Summary
	lines := strings.Split(strings.TrimSpace(out), "\n")
	must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &summary))
	if summary.Passed || summary.DigestAlg != "sm3" || summary.Verify.TemplateMismatches != 1 || summary.Verify.TemplateUnchecked != 0 || len(summary.Verify.Unchecked) != 0 {
		t.Fatalf("summary %+v", summary.Verify)
	}

	// The sm3_256 bank is replayed: its right value matches, a wrong one fails.
	b := &measure.PCRBank{Alg: measure.SM3}
	b.Values[10] = v.Report().PCRs[0].Computed
	pcrSM3 := filepath.Join(lf.dir, "pcrs.sm3")
	writePCRs(t, pcrSM3, b)
	code, _, errs = run("--file", lf.bin, "--format", "none", "--verify", "--pcrs", "sha1,"+lf.pcr1, "--pcrs", "sm3_256,"+pcrSM3)
	if code != 0 || !strings.Contains(errs, "PCR 10 sha1, PCR 10 sm3 match") {
		t.Fatalf("sm3 bank: code %d\n%s", code, errs)
	}
	must(t, os.WriteFile(pcrSM3, []byte("PCR-10: "+strings.Repeat("ab", 32)+"\n"), 0o644))
	code, _, errs = run("--file", lf.bin, "--format", "none", "--verify", "--pcrs", "sm3_256,"+pcrSM3)
	if code != 1 || !strings.Contains(errs, "verification FAILED") || !strings.Contains(errs, "PCR 10 sm3") {
		t.Fatalf("wrong sm3 bank: code %d\n%s", code, errs)
	}

	// A TPM bank this build does not know is not replayed: INCOMPLETE.
	tpm := filepath.Join(lf.dir, "tpm")
	for alg, vals := range map[string]*measure.PCRBank{"sha1": lf.res.PCRs.Bank(measure.SHA1), "sha3_256": b} {
		dir := filepath.Join(tpm, "pcr-"+alg)
		must(t, os.MkdirAll(dir, 0o755))
		for i, val := range vals.Values {
			if val != nil {
				must(t, os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte(fmt.Sprintf("%X\n", val)), 0o644))
			}
		}
	}
	code, _, errs = run("--file", lf.bin, "--format", "none", "--verify", "--tpm", tpm)
	if code != 1 || strings.Contains(errs, "verification passed") || !strings.Contains(errs, "verification INCOMPLETE") ||
		!strings.Contains(errs, "NOT CHECKED: pcr bank (sha3_256)") {
		t.Fatalf("unknown TPM bank: code %d\n%s", code, errs)
	}
}

// The binary record layout is detected and reported (issue 11.3): listing,
// a namespace view and verification work on both layouts; a forced wrong
// layout names --layout.
func TestMeasurementsLayouts(t *testing.T) {
	for _, l := range []measure.Layout{measure.LayoutPlain, measure.LayoutNSHeader} {
		t.Run(l.String(), func(t *testing.T) {
			lf := writeList(t, listgen.Spec{Entries: 400, Violations: 2, Namespaces: 2, Seed: 24, NSHeader: l == measure.LayoutNSHeader})
			ascii, _ := os.ReadFile(lf.ascii)
			code, out, errs := run("--file", lf.bin)
			if code != 0 || out != string(ascii) || strings.Contains(errs, "namespace id after the PCR") != (l == measure.LayoutNSHeader) {
				t.Fatalf("listing: code %d, output equal %v, stderr %q", code, out == string(ascii), errs)
			}
			ns := lf.res.Namespaces[1]
			code, out, errs = run(append([]string{"--file", lf.bin, "--ns", fmt.Sprint(ns.ID), "--format", "json"}, lf.verifyArgs()...)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var summary measure.Summary
			must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &summary))
			if code != 0 || summary.Layout != l.String() || !summary.LayoutDetected || summary.Selected != int64(ns.Entries) ||
				!strings.Contains(errs, fmt.Sprintf("binary list, %s layout (detected)", l)) {
				t.Fatalf("view: code %d, summary %+v\n%s", code, summary, errs)
			}
			other := "ns-header"
			if l == measure.LayoutNSHeader {
				other = "plain"
			}
			code, _, errs = run("--file", lf.bin, "--layout", other, "--format", "none")
			if code != 1 || !strings.Contains(errs, "--layout "+l.String()) {
				t.Fatalf("forced %s: code %d\n%s", other, code, errs)
			}
		})
	}
	code, _, errs := run("--layout", "rfc2020", "--file", "x")
	if code != 2 || !strings.Contains(errs, "--layout") {
		t.Fatalf("bad --layout: %d %s", code, errs)
	}
}

// One container id used by two containers one after the other: each life
// has its own archive; --container reads the latest, lists the other, and
// --life picks it.
func TestMeasurementsContainerLives(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 1200, Namespaces: 3, Seed: 21})
	first, second := lf.res.Namespaces[1], lf.res.Namespaces[2]
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	var keys []string
	for i, ns := range []listgen.NS{first, second} {
		r := record.Record{ContainerID: "ctr", NS: ns.ID, AggregateIndex: ns.AggregateIndex, Result: "applied",
			Time: time.Date(2026, 12, 2, 6, i, 0, 0, time.UTC)}
		must(t, store.WriteLive(r))
		live, err := store.ReadLive("ctr")
		must(t, err)
		dir, err := store.Archive(live, nil)
		must(t, err)
		must(t, store.RemoveLive("ctr", live.Life))
		keys = append(keys, filepath.Base(dir))
	}
	code, out, errs := run(append([]string{"--file", lf.bin, "--container", "ctr"}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != second.Entries {
		t.Fatalf("code %d, %d lines, want the latest life's %d: %s", code, strings.Count(out, "\n"), second.Entries, errs)
	}
	if !strings.Contains(errs, "life "+keys[1]) || !strings.Contains(errs, "1 other lives with this id: "+keys[0]) || !strings.Contains(errs, "--life") {
		t.Fatalf("stderr does not name the life taken and the other one: %q", errs)
	}
	code, out, errs = run(append([]string{"--file", lf.bin, "--container", "ctr", "--life", keys[0]}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != first.Entries {
		t.Fatalf("--life: code %d, %d lines, want %d: %s", code, strings.Count(out, "\n"), first.Entries, errs)
	}
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "ctr", "--life", "nope"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, keys[0]) || !strings.Contains(errs, keys[1]) {
		t.Fatalf("unknown life: %d %q", code, errs)
	}
	if code, _, errs = run("--file", lf.bin, "--life", keys[0]); code != 2 || !strings.Contains(errs, "--life") {
		t.Fatalf("--life without --container: %d %q", code, errs)
	}
	// A third container with the id is running: it is the latest.
	must(t, store.WriteLive(record.Record{ContainerID: "ctr", NS: first.ID, AggregateIndex: first.AggregateIndex, Result: "applied",
		Time: time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)}))
	code, out, errs = run(append([]string{"--file", lf.bin, "--container", "ctr"}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != first.Entries || !strings.Contains(errs, "(live") || !strings.Contains(errs, "2 other lives") {
		t.Fatalf("live life: code %d, %d lines: %q", code, strings.Count(out, "\n"), errs)
	}
}

// Containers are found as users name them: a unique id prefix (the short
// id engines show) or a name the engine recorded; stderr says which one was
// taken, and an ambiguous prefix or name lists the candidates.
func TestMeasurementsContainerByNameOrPrefix(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 1200, Namespaces: 3, Seed: 22})
	web, db := lf.res.Namespaces[1], lf.res.Namespaces[2]
	const (
		webID = "4f1c2a9e0b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291800"
		dbID  = "4f1c99990b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291811"
	)
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	must(t, store.WriteLive(record.Record{ContainerID: webID, Names: []string{"web", "default/shop/web"}, NS: web.ID, AggregateIndex: web.AggregateIndex, Result: "applied"}))
	must(t, store.WriteLive(record.Record{ContainerID: dbID, Names: []string{"db"}, NS: db.ID, AggregateIndex: db.AggregateIndex, Result: "applied"}))
	for _, c := range []struct {
		query, by string
		ns        listgen.NS
		id        string
	}{
		{webID, "", web, webID},
		{webID[:12], "id prefix", web, webID},
		{"web", "name", web, webID},
		{"default/shop/web", "name", web, webID},
		{"db", "name", db, dbID},
		{dbID[:12], "id prefix", db, dbID},
	} {
		code, out, errs := run(append([]string{"--file", lf.bin, "--container", c.query}, dirs...)...)
		if code != 0 || strings.Count(out, "\n") != c.ns.Entries {
			t.Errorf("%s: code %d, %d lines, want %d: %s", c.query, code, strings.Count(out, "\n"), c.ns.Entries, errs)
			continue
		}
		picked := "container " + c.id + " (by " + c.by + ")"
		if c.by == "" {
			if strings.Contains(errs, "(by ") {
				t.Errorf("%s: the full id needs no note: %q", c.query, errs)
			}
		} else if !strings.Contains(errs, picked) {
			t.Errorf("%s: stderr does not say %q: %q", c.query, picked, errs)
		}
	}
	code, _, errs := run(append([]string{"--file", lf.bin, "--container", "4f1c"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "2 containers match this id prefix") || !strings.Contains(errs, webID) || !strings.Contains(errs, dbID) {
		t.Fatalf("ambiguous prefix: %d %q", code, errs)
	}
	must(t, store.WriteLive(record.Record{ContainerID: "other", Names: []string{"web"}, NS: db.ID, Result: "applied"}))
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "web"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "2 containers match this name") || !strings.Contains(errs, webID) || !strings.Contains(errs, "other") {
		t.Fatalf("ambiguous name: %d %q", code, errs)
	}
}

// --config: the records are where the admin config's run_dir and
// archive_dir say (the hook writes them there); --run-dir/--archive-dir
// still win.
func TestMeasurementsConfigDirs(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 600, Namespaces: 2, Seed: 23})
	ns := lf.res.Namespaces[1]
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	must(t, store.WriteLive(record.Record{ContainerID: "c1", NS: ns.ID, AggregateIndex: ns.AggregateIndex, Result: "applied"}))
	cfg := filepath.Join(lf.dir, "config.toml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf("run_dir = %q\narchive_dir = %q\n", store.RunDir, store.ArchiveDir)), 0o644))
	code, out, errs := run("--file", lf.bin, "--container", "c1", "--config", cfg)
	if code != 0 || strings.Count(out, "\n") != ns.Entries {
		t.Fatalf("--config: code %d, %d lines: %s", code, strings.Count(out, "\n"), errs)
	}
	// An explicit directory wins over the config's.
	code, _, errs = run("--file", lf.bin, "--container", "c1", "--config", cfg, "--run-dir", filepath.Join(lf.dir, "elsewhere"))
	if code != 2 || !strings.Contains(errs, filepath.Join(lf.dir, "elsewhere")) {
		t.Fatalf("--run-dir over --config: %d %q", code, errs)
	}
	// A config that cannot be read is named.
	code, _, errs = run("--file", lf.bin, "--container", "c1", "--config", filepath.Join(lf.dir, "missing.toml"))
	if code != 2 || !strings.Contains(errs, "missing.toml") {
		t.Fatalf("missing config: %d %q", code, errs)
	}
	// No --container: the config is not needed, even a broken one.
	if code, _, errs = run("--file", lf.bin, "--format", "none", "--config", filepath.Join(lf.dir, "missing.toml")); code != 0 {
		t.Fatalf("config read without --container: %d %q", code, errs)
	}
}

// A namespace whose entries were logged with the host's ima-ng template
// (newest openEuler): --ns finds its aggregate only, and says how many
// entries in its span it could not attribute, on stderr and in the JSON.
func TestMeasurementsReportUnattributableEntries(t *testing.T) {
	const id = 4026532329
	var list []byte
	add := func(e *measure.Entry, err error) {
		must(t, err)
		list = measure.AppendBinary(list, e, measure.WriteOptions{})
	}
	d := bytes.Repeat([]byte{1}, 32)
	add(measure.NewNGEntry(10, "sha256", d, "/boot/before"))
	add(measure.NewNSAggregate(id, "ima-ng"))
	add(measure.NewNGEntry(10, "sha256", d, "/ctr/a"))
	add(measure.NewNGEntry(10, "sha256", d, "/ctr/b"))
	path := filepath.Join(t.TempDir(), "binary_runtime_measurements")
	must(t, os.WriteFile(path, list, 0o644))

	code, out, stderr := run("--file", path, "--ns", fmt.Sprint(id))
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "ns_aggregate_4026532329") {
		t.Fatalf("exit %d, out:\n%s", code, out)
	}
	want := fmt.Sprintf("namespace %d: 2 entries in its span carry no namespace id", id)
	if !strings.Contains(stderr, want) {
		t.Fatalf("stderr lacks %q:\n%s", want, stderr)
	}
	code, out, _ = run("--file", path, "--ns", fmt.Sprint(id), "--format", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum measure.Summary
	if code != 0 || json.Unmarshal([]byte(lines[len(lines)-1]), &sum) != nil || sum.Selection == nil || sum.Selection.Unattributed != 2 {
		t.Fatalf("exit %d, summary %s", code, lines[len(lines)-1])
	}
	// An ima-ns list: nothing to report.
	lf := writeList(t, listgen.Spec{Entries: 300, Namespaces: 1, Seed: 5})
	_, _, stderr = run("--file", lf.bin, "--ns", fmt.Sprint(lf.res.Namespaces[0].ID))
	if strings.Contains(stderr, "could not be attributed") {
		t.Fatalf("ima-ns list reported unattributable entries:\n%s", stderr)
	}
}

// TestMeasurementsContainerByEngineName: podman and Docker record no name,
// so a name no record carries is asked of the engines on PATH (here fake
// ones): the id podman gives is found and stderr says podman named it; an
// engine that fails or is missing is not fatal, and when no engine gives a
// container with a record the error says what each one answered. Before,
// the name was "not found" with no engine asked.
func TestMeasurementsContainerByEngineName(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 600, Namespaces: 2, Seed: 23})
	web := lf.res.Namespaces[1]
	const webID = "9a1c2a9e0b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291800"
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	must(t, store.WriteLive(record.Record{ContainerID: webID, NS: web.ID, AggregateIndex: web.AggregateIndex, Result: "applied"}))
	bin := t.TempDir()
	for name, body := range map[string]string{
		"podman": `[ "$*" = "container inspect --format {{.Id}} -- web-1" ] && { echo ` + webID + `; exit 0; }
[ "$6" = orphan ] && { echo 0000000000000000000000000000000000000000000000000000000000000000; exit 0; }
echo "Error: no such container $6" >&2; exit 125`,
		"docker": `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1`,
	} {
		must(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	t.Setenv("PATH", bin)

	code, out, errs := run(append([]string{"--file", lf.bin, "--container", "web-1"}, dirs...)...)
	if code != 0 || strings.Count(out, "\n") != web.Entries {
		t.Fatalf("web-1: code %d, %d lines, want %d: %s", code, strings.Count(out, "\n"), web.Entries, errs)
	}
	if !strings.Contains(errs, "--container web-1: container "+webID+" (by podman name)") {
		t.Errorf("stderr does not say podman named it: %q", errs)
	}
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "orphan"}, dirs...)...)
	want := "(asked podman (container 0000000000000000000000000000000000000000000000000000000000000000, which has no record), docker (Cannot connect to the Docker daemon"
	if code != 2 || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("orphan: code %d, want 2 and %q: %q", code, want, errs)
	}
	t.Setenv("PATH", t.TempDir())
	code, _, errs = run(append([]string{"--file", lf.bin, "--container", "web-1"}, dirs...)...)
	if code != 2 || !strings.Contains(errs, "(asked podman (not on PATH), docker (not on PATH))") {
		t.Errorf("no engines: code %d: %q", code, errs)
	}
}
