package vmtest

import (
	"context"
	"testing"
)

// BenchmarkBoot measures one full guest run (initramfs build, boot, a
// trivial script, power-off); the number to budget per VM test.
// Select the accelerator with IMA_HOOK_VM_ACCEL (default tcg).
func BenchmarkBoot(b *testing.B) {
	benchBoot(b, Options{Cmdline: "ima_policy=tcb", Script: "cat /sys/kernel/security/ima/runtime_measurements_count"})
}

// BenchmarkBootTPM adds swtpm (state copied from the cache) and a PCR read.
func BenchmarkBootTPM(b *testing.B) {
	benchBoot(b, Options{TPM: true, Cmdline: "ima_policy=tcb", Script: "cat /sys/class/tpm/tpm0/pcr-sha256/10"})
}

func benchBoot(b *testing.B, opt Options) {
	if r := Unavailable(); r != "" {
		b.Skip(r)
	}
	if opt.TPM {
		if r := TPMUnavailable(); r != "" {
			b.Skip(r)
		}
	}
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), opt)
		if err != nil {
			b.Fatal(err)
		}
		if res.ExitCode != 0 {
			b.Fatalf("script exit %d", res.ExitCode)
		}
	}
}
