package vmtest

import (
	"context"
	"os"
	"testing"
)

func TestZZProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	res, err := Run(context.Background(), Options{Cmdline: os.Getenv("PROBE_CMDLINE"), TPM: os.Getenv("PROBE_TPM") != "", Script: os.Getenv("PROBE")})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/probe/console", []byte(res.Console), 0o644)
	for n, d := range res.Files {
		os.WriteFile("/tmp/probe/"+n, d, 0o644)
	}
	t.Logf("elapsed %s", res.Elapsed)
}
