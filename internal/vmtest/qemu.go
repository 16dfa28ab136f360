package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runQEMU starts qemu with the console on stdout, decodes the guest's
// markers while it runs and kills qemu on ctx expiry or console overflow.
func runQEMU(ctx context.Context, args []string, token string, timeout time.Duration) (*Result, error) {
	cmd := exec.Command(qemuBinary, args...)
	cmd.Stdin = nil // /dev/null: nothing may reach the serial console
	// An os.Pipe (not StdoutPipe) so the reader sees EOF exactly when qemu,
	// the only writer, is gone, and reading never races with cmd.Wait.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	defer pr.Close()
	cmd.Stdout = pw
	var stderr boundedBuffer
	stderr.max = 64 << 10
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("vmtest: start %s: %w", qemuBinary, err)
	}
	p := newParser(token)
	parsed := make(chan error, 1)
	go func() { parsed <- p.consume(pr) }()

	var perr error
	parseDone := false
	select {
	case perr = <-parsed:
		parseDone = true
	case <-ctx.Done():
	}
	if !parseDone || perr != nil || p.overflow {
		_ = cmd.Process.Kill()
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		werr = <-waited
	}
	if !parseDone {
		perr = <-parsed // qemu is gone: EOF is certain
	}
	res := &Result{Console: p.console.String(), Files: p.files, ExitCode: p.exitCode, Elapsed: time.Since(start)}
	if p.overflow {
		return res, fmt.Errorf("vmtest: %w: console output exceeded %d bytes; last output: %s", ErrIncomplete, MaxConsole, tail(res.Console, 2000))
	}
	if p.failMsg != "" {
		return res, fmt.Errorf("vmtest: %w: guest setup failed: %s; console tail: %s", ErrIncomplete, p.failMsg, tail(res.Console, 2000))
	}
	if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, os.ErrClosed) {
		return res, fmt.Errorf("vmtest: %w: %v; console tail: %s", ErrIncomplete, perr, tail(res.Console, 2000))
	}
	if !p.exited {
		why := "qemu exited before the script ended"
		if ctx.Err() != nil {
			why = fmt.Sprintf("timed out after %s (%v)", timeout, ctx.Err())
		} else if werr != nil {
			why = fmt.Sprintf("qemu: %v: %s", werr, strings.TrimSpace(stderr.String()))
		}
		return res, fmt.Errorf("vmtest: %w: %s; console tail: %s", ErrIncomplete, why, tail(res.Console, 3000))
	}
	return res, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// parser reads the console line by line. Lines between BEGIN and END
// markers are base64 payload; everything else is kept as console text.
type parser struct {
	token    string
	console  boundedBuffer
	files    map[string][]byte
	exitCode int
	exited   bool
	failMsg  string
	overflow bool

	cur     string // name of the file being received, "" outside
	payload bytes.Buffer
}

func newParser(token string) *parser {
	p := &parser{token: token, files: map[string][]byte{}}
	p.console.max = MaxConsole
	return p
}

func (p *parser) consume(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	prefix := "@@VMTEST:" + p.token + ":"
	var total int64
	lineNo := 0
	for {
		line, err := br.ReadString('\n')
		total += int64(len(line))
		if total > MaxConsole {
			p.overflow = true
			return nil
		}
		if line != "" {
			lineNo++
			if perr := p.line(strings.TrimRight(line, "\r\n"), prefix, lineNo); perr != nil {
				return perr
			}
			if p.exited || p.failMsg != "" {
				// Keep reading the shutdown messages, but the result is decided.
				continue
			}
		}
		if err != nil {
			return err
		}
	}
}

func (p *parser) line(l, prefix string, lineNo int) error {
	i := strings.Index(l, prefix)
	if i < 0 {
		if p.cur != "" {
			p.payload.WriteString(strings.TrimSpace(l))
			return nil
		}
		p.console.WriteString(l + "\n")
		return nil
	}
	// A marker may follow console text on the same line (the kernel can
	// print without a trailing newline); keep that text.
	if i > 0 && p.cur == "" {
		p.console.WriteString(l[:i] + "\n")
	}
	// The marker ends at its first "@@" (no body contains one). The kernel
	// prints asynchronously on the same UART, so its text can follow the
	// marker on the same line (seen: "...:START@@[    2.13] tsc: Refined
	// TSC clocksource calibration"): that text is console output.
	body, after, _ := strings.Cut(l[i+len(prefix):], "@@")
	if after != "" {
		p.console.WriteString(after + "\n")
	}
	kind, rest, _ := strings.Cut(body, ":")
	switch kind {
	case "START":
		p.console.WriteString("[vmtest: script started]\n")
	case "EXIT":
		n, err := strconv.Atoi(rest)
		if err != nil {
			return fmt.Errorf("console line %d: bad exit marker %q", lineNo, body)
		}
		p.exitCode, p.exited = n, true
		p.console.WriteString(fmt.Sprintf("[vmtest: script exited %d]\n", n))
	case "FAIL":
		p.failMsg = rest
		p.console.WriteString("[vmtest: setup failed: " + rest + "]\n")
	case "BEGIN":
		if p.cur != "" {
			return fmt.Errorf("console line %d: export %q begins inside export %q", lineNo, rest, p.cur)
		}
		if len(p.files) >= MaxFiles {
			return fmt.Errorf("console line %d: more than %d exported files", lineNo, MaxFiles)
		}
		p.cur = rest
		p.payload.Reset()
	case "END":
		name, rc, _ := strings.Cut(rest, ":")
		if name != p.cur {
			return fmt.Errorf("console line %d: export end %q does not match begin %q", lineNo, name, p.cur)
		}
		p.cur = ""
		if rc != "0" {
			p.console.WriteString(fmt.Sprintf("[vmtest: export %s failed: base64 exit %s]\n", name, rc))
			return nil
		}
		data, err := base64.StdEncoding.DecodeString(p.payload.String())
		if err != nil {
			return fmt.Errorf("console line %d: export %q: bad base64: %v", lineNo, name, err)
		}
		p.files[name] = data
		p.console.WriteString(fmt.Sprintf("[vmtest: exported %s, %d bytes]\n", name, len(data)))
	default:
		return fmt.Errorf("console line %d: unknown marker %q", lineNo, body)
	}
	return nil
}

// boundedBuffer keeps at most max bytes and drops the rest.
type boundedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.truncated = true
		return n, nil
	}
	b.buf.Write(p)
	return n, nil
}

func (b *boundedBuffer) WriteString(s string) { b.Write([]byte(s)) }

func (b *boundedBuffer) String() string {
	if b.truncated {
		return b.buf.String() + "\n[vmtest: output truncated]\n"
	}
	return b.buf.String()
}

// startTPM creates a fresh TPM 2.0 state with the sha1 and sha256 banks
// (swtpm_setup allocates only sha256 by default, and replaying both banks
// is what the measurement tests want), then runs swtpm in the foreground as
// our child so that stop() can kill it by pid.
func startTPM(ctx context.Context, dir string) (stop func(), qemuArgs []string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("vmtest: %w", err)
	}
	if err := manufactureTPM(ctx, dir); err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(dir, "sock")
	var logb boundedBuffer
	logb.max = 16 << 10
	tpm := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+dir,
		"--ctrl", "type=unixio,path="+sock, "--terminate")
	tpm.Stdout, tpm.Stderr = &logb, &logb
	tpm.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := tpm.Start(); err != nil {
		return nil, nil, fmt.Errorf("vmtest: start swtpm: %w", err)
	}
	done := make(chan struct{})
	go func() { tpm.Wait(); close(done) }()
	stop = func() {
		_ = tpm.Process.Kill()
		<-done
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-done:
			return nil, nil, fmt.Errorf("vmtest: swtpm exited early: %s", strings.TrimSpace(logb.String()))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, nil, fmt.Errorf("vmtest: swtpm socket %s did not appear", sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop, []string{
		"-chardev", "socket,id=chrtpm,path=" + sock,
		"-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
		"-device", "tpm-tis,tpmdev=tpm0",
	}, nil
}

// tpmStateFile is the one file swtpm keeps a TPM 2.0's permanent state in.
const tpmStateFile = "tpm2-00.permall"

// manufactureTPM puts a freshly manufactured TPM state into dir. Running
// swtpm_setup (which creates the EK and allocates the banks) takes seconds,
// so its result is kept once in CacheDir/swtpm-sha1-sha256 and copied: the
// PCRs live in volatile state and start from zero at every power-on, so a
// copied state gives the same measurements as a new one.
func manufactureTPM(ctx context.Context, dir string) error {
	tmplDir := filepath.Join(CacheDir(), "swtpm-sha1-sha256")
	tmpl := filepath.Join(tmplDir, tpmStateFile)
	if _, err := os.Stat(tmpl); err != nil {
		if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		unlock, err := lockDir(CacheDir())
		if err != nil {
			return err
		}
		defer unlock()
		if _, err := os.Stat(tmpl); err != nil {
			tmp, err := os.MkdirTemp(CacheDir(), ".swtpm-")
			if err != nil {
				return fmt.Errorf("vmtest: %w", err)
			}
			defer os.RemoveAll(tmp)
			setup := exec.CommandContext(ctx, "swtpm_setup", "--tpm2", "--tpmstate", tmp,
				"--pcr-banks", "sha1,sha256", "--overwrite")
			if out, err := setup.CombinedOutput(); err != nil {
				return fmt.Errorf("vmtest: swtpm_setup: %v: %s", err, lastLines(string(out), 4))
			}
			if _, err := os.Stat(filepath.Join(tmp, tpmStateFile)); err != nil {
				return fmt.Errorf("vmtest: swtpm_setup left no %s: %w", tpmStateFile, err)
			}
			os.RemoveAll(tmplDir)
			if err := os.Rename(tmp, tmplDir); err != nil {
				return fmt.Errorf("vmtest: %w", err)
			}
		}
	}
	return copyFile(tmpl, filepath.Join(dir, tpmStateFile), 0o600)
}
