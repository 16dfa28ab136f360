package vmtest

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func skipUnlessVM(t *testing.T) {
	t.Helper()
	if r := Unavailable(); r != "" {
		t.Skip(r)
	}
}

func TestBootMeasurementCount(t *testing.T) {
	skipUnlessVM(t)
	res, err := Run(context.Background(), Options{
		Cmdline: "ima_policy=tcb",
		Script: `cat /sys/kernel/security/ima/runtime_measurements_count > /tmp/count
echo "count=$(cat /tmp/count)"
export_file /tmp/count count`,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot+script took %s", res.Elapsed)
	if res.ExitCode != 0 {
		t.Fatalf("script exit %d; console:\n%s", res.ExitCode, res.Console)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(res.Files["count"])))
	if err != nil || n <= 0 {
		t.Fatalf("runtime_measurements_count = %q, want a positive number; console:\n%s", res.Files["count"], res.Console)
	}
	if !strings.Contains(res.Console, "count="+strconv.Itoa(n)) {
		t.Errorf("console lacks the script's echo count=%d", n)
	}
}

func TestTPMPCR10(t *testing.T) {
	if r := TPMUnavailable(); r != "" {
		t.Skip(r)
	}
	res, err := Run(context.Background(), Options{
		TPM:     true,
		Cmdline: "ima_policy=tcb",
		Script: `cat /bin/busybox >/dev/null
export_file /sys/class/tpm/tpm0/pcr-sha256/10 pcr10
export_file /sys/class/tpm/tpm0/pcr-sha1/10 pcr10sha1`,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TPM boot+script took %s", res.Elapsed)
	pcr := strings.TrimSpace(string(res.Files["pcr10"]))
	if !regexp.MustCompile(`^[0-9A-Fa-f]{64}$`).MatchString(pcr) || strings.Trim(pcr, "0") == "" {
		t.Fatalf("pcr-sha256/10 = %q, want 64 hex chars, non-zero; console:\n%s", pcr, res.Console)
	}
	sha1 := strings.TrimSpace(string(res.Files["pcr10sha1"]))
	if !regexp.MustCompile(`^[0-9A-Fa-f]{40}$`).MatchString(sha1) || strings.Trim(sha1, "0") == "" {
		t.Fatalf("pcr-sha1/10 = %q, want 40 hex chars, non-zero (sha1 bank allocated)", sha1)
	}
}

func TestScriptExitCodeAndTimeout(t *testing.T) {
	skipUnlessVM(t)
	res, err := Run(context.Background(), Options{Script: "echo hello; exit 7"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 7 || !strings.Contains(res.Console, "hello") {
		t.Fatalf("exit %d, want 7; console:\n%s", res.ExitCode, res.Console)
	}
	start := time.Now()
	_, err = Run(context.Background(), Options{Script: "sleep 600", Timeout: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 40*time.Second {
		t.Fatalf("timeout took %s", d)
	}
}
