package vmtest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// -capture regenerates pkg/measure/testdata/qemu (see its README.txt);
// without it TestCaptureMeasurements captures one list into a temp dir and
// checks that evmctl replays it, which exercises the whole oracle path.
var captureFlag = flag.Bool("capture", false, "regenerate pkg/measure/testdata/qemu from real guest runs")

const fixtureDir = "../../pkg/measure/testdata/qemu"

// fsmagic values of the pseudo filesystems the capture must not measure:
// reading the list or the PCRs would otherwise add entries while we read.
const excludePseudoFS = `dont_measure fsmagic=0x9fa0
dont_measure fsmagic=0x62656572
dont_measure fsmagic=0x73636673
dont_measure fsmagic=0x1cd1
`

type captureSpec struct {
	name     string
	about    string // one line for README.txt
	cmdline  string
	policy   string // rules written one per write() after the workload files exist
	files    []File
	tools    []string
	workload string // runs after the policy is loaded
	cert     []byte // DER certificate saved as <name>.cert.der
}

// captureSpecs are the fixtures. Workload files live under /data owned by
// uid 1234 so that `fowner=1234` keeps the lists small and deterministic in
// shape (the digests of busybox and keyctl follow the host's packages).
func captureSpecs(t *testing.T) []captureSpec {
	keyPEM, certDER := testSigningKey(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	signedData := []byte("#!/bin/sh\necho signed by the vmtest capture key\n")
	signed := filepath.Join(dir, "signed.sh")
	if err := os.WriteFile(signed, signedData, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("evmctl", "ima_sign", "--sigfile", "--key", keyPath, "-a", "sha256", signed).CombinedOutput(); err != nil {
		t.Fatalf("evmctl ima_sign: %v: %s", err, out)
	}
	sig, err := os.ReadFile(signed + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	common := []File{
		{Path: "/data/hello.txt", Data: []byte("hello from the ima-hook vmtest guest\n")},
		{Path: "/data/name with spaces.txt", Data: []byte("IMA stores spaces in names as underscores\n")},
		{Path: "/data/empty", Data: nil},
	}
	fileRules := excludePseudoFS + "measure func=BPRM_CHECK\nmeasure func=FILE_CHECK mask=MAY_READ fowner=1234\n"
	return []captureSpec{
		{
			name:    "ima-ng",
			about:   "template ima-ng, sha256; boot_aggregate, busybox exec, three files read, one file changed and read again (same name, two digests).",
			cmdline: "ima_template=ima-ng ima_hash=sha256",
			policy:  fileRules,
			files:   common,
			workload: `cat /data/hello.txt "/data/name with spaces.txt" /data/empty > /dev/null
cat /data/hello.txt > /dev/null
echo "changed" >> /data/hello.txt
cat /data/hello.txt > /dev/null`,
		},
		{
			name:    "ima-sig",
			about:   "template ima-sig (Debian's default), sha256; /data/signed.sh carries an evmctl signature in security.ima (sig field filled, key in ima-sig.cert.der), other entries have an empty sig field.",
			cmdline: "ima_hash=sha256",
			policy:  fileRules,
			cert:    certDER,
			files: append(append([]File(nil), common...),
				File{Path: "/data/signed.sh", Data: signedData, Mode: 0o755, Xattrs: map[string][]byte{"security.ima": sig}}),
			workload: `cat /data/signed.sh /data/hello.txt /data/empty > /dev/null`,
		},
		{
			name:    "ima-buf",
			about:   "template ima-ng for files plus template ima-buf for a KEY_CHECK entry (name _ima, buf = the DER certificate in ima-buf.cert.der, loaded with keyctl padd); keyctl's exec is measured too.",
			cmdline: "ima_template=ima-ng ima_hash=sha256",
			policy:  fileRules + "measure func=KEY_CHECK keyrings=_ima template=ima-buf\n",
			files:   append(append([]File(nil), common...), File{Path: "/etc/ima.der", Data: certDER}),
			tools:   []string{"keyctl"},
			cert:    certDER,
			workload: `cat /data/hello.txt > /dev/null
ring=$(keyctl newring _ima @u)
keyctl padd asymmetric "" "$ring" < /etc/ima.der > /dev/null`,
		},
		{
			name:    "violations",
			about:   "template ima-ng, sha256; one ToMToU violation (/data/tomtou opened for write while open for read and measured) and one open_writers violation (/data/open-writers read while open for write): zero digests in the list, 0xff extended into the PCRs.",
			cmdline: "ima_template=ima-ng ima_hash=sha256",
			policy:  fileRules,
			files: append(append([]File(nil), common...),
				File{Path: "/data/tomtou", Data: []byte("read first, then written\n")},
				File{Path: "/data/open-writers", Data: []byte("written while read\n")}),
			workload: `cat /data/hello.txt > /dev/null
exec 4< /data/tomtou
echo more >> /data/tomtou
exec 4<&-
exec 5>> /data/open-writers
cat /data/open-writers > /dev/null
exec 5>&-
cat /data/empty > /dev/null`,
		},
	}
}

// captureScript: chown the workload files, load the policy one rule per
// write (ima_write_policy judges each write; CONFIG_IMA_WRITE_POLICY is off
// so the file is gone after this close), run the workload, copy the lists
// FIRST and read the PCRs after, then export.
func captureScript(s captureSpec) string {
	var b strings.Builder
	b.WriteString("set -e\nchown -R 1234 /data\n")
	b.WriteString("{\n")
	for _, r := range strings.Split(strings.TrimSpace(s.policy), "\n") {
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n", shQuote(r))
	}
	b.WriteString("} > /sys/kernel/security/ima/policy\n")
	b.WriteString(s.workload + "\n")
	b.WriteString(`I=/sys/kernel/security/ima
cat $I/binary_runtime_measurements > /tmp/binary
cat $I/ascii_runtime_measurements > /tmp/ascii
cat $I/runtime_measurements_count > /tmp/count
cat $I/violations > /tmp/violations
for bank in sha1 sha256; do
	i=0
	while [ $i -lt 24 ]; do
		printf 'PCR-%02d: %s\n' $i "$(cat /sys/class/tpm/tpm0/pcr-$bank/$i)"
		i=$((i+1))
	done > /tmp/pcrs-$bank
done
for f in binary ascii count violations pcrs-sha1 pcrs-sha256; do export_file /tmp/$f $f; done
`)
	return b.String()
}

func TestCaptureMeasurements(t *testing.T) {
	if r := TPMUnavailable(); r != "" {
		t.Skip(r)
	}
	if _, err := exec.LookPath("evmctl"); err != nil {
		t.Skip("evmctl not installed (apt-get install ima-evm-utils)")
	}
	specs := captureSpecs(t)
	out := t.TempDir()
	if *captureFlag {
		out = fixtureDir
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		specs = specs[3:] // the violation capture covers the most ground
	}
	var report strings.Builder
	for _, s := range specs {
		res, err := Run(context.Background(), Options{
			TPM:       true,
			Cmdline:   s.cmdline,
			Files:     s.files,
			HostTools: s.tools,
			Script:    captureScript(s),
			Timeout:   5 * time.Minute, // TCG on a loaded 2-core host
		})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("%s: script exit %d; console:\n%s", s.name, res.ExitCode, res.Console)
		}
		t.Logf("%s: guest run %s", s.name, res.Elapsed)
		names := map[string]string{
			"binary":      s.name + ".binary_runtime_measurements",
			"ascii":       s.name + ".ascii_runtime_measurements",
			"count":       s.name + ".runtime_measurements_count",
			"violations":  s.name + ".violations",
			"pcrs-sha1":   s.name + ".pcrs-sha1",
			"pcrs-sha256": s.name + ".pcrs-sha256",
		}
		for k, fn := range names {
			data, ok := res.Files[k]
			if !ok {
				t.Fatalf("%s: %s not exported; console:\n%s", s.name, k, res.Console)
			}
			if err := os.WriteFile(filepath.Join(out, fn), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if s.cert != nil {
			if err := os.WriteFile(filepath.Join(out, s.name+".cert.der"), s.cert, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		count, _ := strconv.Atoi(strings.TrimSpace(string(res.Files["count"])))
		lines := bytes.Count(res.Files["ascii"], []byte("\n"))
		if count <= 0 || lines != count {
			t.Fatalf("%s: runtime_measurements_count %d, ascii list has %d lines", s.name, count, lines)
		}
		viol, _ := strconv.Atoi(strings.TrimSpace(string(res.Files["violations"])))
		if s.name == "violations" && viol < 2 {
			t.Fatalf("%s: violations = %d, want >= 2; ascii:\n%s", s.name, viol, res.Files["ascii"])
		}
		fmt.Fprintf(&report, "## %s (%d entries, %d violations)\n", s.name, count, viol)
		for _, r := range replayChecks(t, out, s.name) {
			fmt.Fprintf(&report, "$ %s\n%s\n(exit %d)\n", r.cmd, r.out, r.exit)
		}
	}
	t.Logf("evmctl replays:\n%s", report.String())
	if *captureFlag {
		if err := os.WriteFile(filepath.Join(out, "evmctl-replay.txt"), []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type replayResult struct {
	cmd, out string
	exit     int
}

// replayChecks runs `evmctl ima_measurement` over one capture in dir, the
// peer oracle that says the capture is self-consistent (exit 0 only when
// the replayed PCR 10 matches in every given bank):
//   - both banks with --ignore-violations must match;
//   - a capture with a signature must also pass --verify-sig with its cert;
//   - the violation capture must FAIL without --ignore-violations (evmctl
//     then extends zeros where the kernel extended 0xff), which proves the
//     violations really reached the PCRs.
func replayChecks(t *testing.T, dir, name string) []replayResult {
	t.Helper()
	pcrs := []string{"--pcrs", "sha1," + name + ".pcrs-sha1", "--pcrs", "sha256," + name + ".pcrs-sha256"}
	list := name + ".binary_runtime_measurements"
	type check struct {
		args   []string
		wantOK bool
	}
	checks := []check{{append(append([]string{"ima_measurement", "--ignore-violations"}, pcrs...), list), true}}
	if _, err := os.Stat(filepath.Join(dir, name+".cert.der")); err == nil && name == "ima-sig" {
		checks = append(checks, check{append(append([]string{"ima_measurement", "--ignore-violations", "--verify-sig", "--key", name + ".cert.der"}, pcrs...), list), true})
	}
	if name == "violations" {
		checks = append(checks, check{append(append([]string{"ima_measurement"}, pcrs...), list), false})
	}
	var res []replayResult
	for _, c := range checks {
		cmd := exec.Command("evmctl", c.args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		r := replayResult{cmd: "evmctl " + strings.Join(c.args, " "), out: strings.TrimSpace(string(out))}
		if ee, ok := err.(*exec.ExitError); ok {
			r.exit = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", r.cmd, err)
		}
		if (r.exit == 0) != c.wantOK {
			t.Errorf("%s: exit %d, want success=%v\n%s", r.cmd, r.exit, c.wantOK, out)
		}
		res = append(res, r)
	}
	return res
}

// TestFixturesReplay checks the committed captures with evmctl without
// booting anything, so a hand-edited or truncated fixture is caught.
func TestFixturesReplay(t *testing.T) {
	if _, err := exec.LookPath("evmctl"); err != nil {
		t.Skip("evmctl not installed (apt-get install ima-evm-utils)")
	}
	lists, _ := filepath.Glob(filepath.Join(fixtureDir, "*.binary_runtime_measurements"))
	if len(lists) < 4 {
		t.Fatalf("want at least 4 captures in %s, found %d", fixtureDir, len(lists))
	}
	for _, l := range lists {
		name := strings.TrimSuffix(filepath.Base(l), ".binary_runtime_measurements")
		t.Run(name, func(t *testing.T) { replayChecks(t, fixtureDir, name) })
	}
}
