package ns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// PopulateTimeout bounds the populate stage; the hook's own timeout in the
// hooks.d file is larger, so a stuck kernel write is reported by us.
var PopulateTimeout = 20 * time.Second

const maxStageOutput = 1 << 20

type stageReply struct {
	Result PopulateResult `json:"result"`
	Err    *userror.Error `json:"error,omitempty"`
}

// runPopulateStage starts cmd (already set up to enter the namespace), sends
// req and decodes the reply.
func runPopulateStage(cmd *exec.Cmd, req PopulateRequest) (PopulateResult, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return PopulateResult{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), PopulateTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout = &limitedWriter{w: &stdout, n: maxStageOutput}
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Start(); err != nil {
		return PopulateResult{}, fmt.Errorf("starting the namespace stage: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return PopulateResult{}, userror.New("IMA namespace", fmt.Sprintf("populating the namespace took longer than %s", PopulateTimeout),
			"check the kernel log (dmesg) for IMA errors")
	}
	var reply stageReply
	if derr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &reply); derr != nil {
		// The C stage failed before Go ran (it prints one line on stderr).
		msg := strings.TrimSpace(stderr.String())
		if msg == "" && err != nil {
			msg = err.Error()
		}
		msg = strings.TrimPrefix(firstLine(msg), "ima-hook: ")
		return PopulateResult{}, userror.New("IMA namespace", "entering the container's namespace failed: "+msg,
			"the container's init must still be alive and the hook must run as real root")
	}
	if reply.Err != nil {
		return reply.Result, reply.Err
	}
	if err != nil {
		return reply.Result, fmt.Errorf("namespace stage: %w", err)
	}
	return reply.Result, nil
}

// serveStage is the child side: read the request, do the work, reply.
func serveStage(do func(PopulateRequest) (PopulateResult, error)) int {
	var req PopulateRequest
	if err := json.NewDecoder(io.LimitReader(os.Stdin, 8<<20)).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "ima-hook: populate stage: bad request: %v\n", err)
		return 2
	}
	res, err := do(req)
	reply := stageReply{Result: res}
	if err != nil {
		var ue *userror.Error
		if !errors.As(err, &ue) {
			ue = userror.New("IMA namespace", err.Error(), "")
		}
		reply.Err = ue
	}
	if err := json.NewEncoder(os.Stdout).Encode(reply); err != nil {
		return 2
	}
	if reply.Err != nil {
		return 1
	}
	return 0
}

// secfs is what the populate stage does inside the namespace: the real
// securityfs files, or the emulator's.
type secfs interface {
	self() (imansid.ID, error)
	writePolicy(rules []string, path string) (int, error)
	addKey(der []byte, keyring string) (int32, error)
	// keyIDs lists the key ids in the keyring the namespace appraises with.
	keyIDs(keyring string) ([]uint32, error)
	counter(name string) (uint64, error)
	hasAggregate(id imansid.ID) (bool, error)
}

// populateHere applies req in the namespace the process is now in.
func populateHere(fs secfs, req PopulateRequest) (PopulateResult, error) {
	var res PopulateResult
	id, err := fs.self()
	if err != nil {
		return res, err
	}
	res.NS = id
	if id == imansid.Initial {
		// Never let a container's policy or key land in the host's namespace.
		return res, userror.New("IMA namespace", "the target process is in the host's initial IMA namespace",
			"start the container through the ima-runtime wrapper so it gets its own namespace")
	}
	if req.Expect != 0 && id != req.Expect {
		return res, userror.New("IMA namespace", fmt.Sprintf("entered namespace %d but expected %d (container init died and its pid was reused?)", id, req.Expect),
			"retry; if it persists, report a bug")
	}
	// The key goes first: a policy that appraises must find it.
	if len(req.KeyDER) > 0 {
		serial, err := fs.addKey(req.KeyDER, req.Keyring)
		if err != nil {
			return res, err
		}
		res.KeySerial = serial
	}
	if len(req.PolicyRules) > 0 || req.PolicyPath != "" {
		n, err := writePolicyRetrying(fs, req.PolicyRules, req.PolicyPath)
		res.RulesWritten = n
		if err != nil {
			return res, err
		}
	}
	if req.ListKeys {
		if res.KeyIDs, err = fs.keyIDs(req.Keyring); err != nil {
			return res, err
		}
		if res.KeyIDs == nil {
			res.KeyIDs = []uint32{}
		}
	}
	if res.MeasurementCount, err = fs.counter("runtime_measurements_count"); err != nil {
		return res, err
	}
	if res.Violations, err = fs.counter("violations"); err != nil {
		return res, err
	}
	if res.AggregatePresent, err = fs.hasAggregate(id); err != nil {
		return res, err
	}
	return res, nil
}

// PolicyBusyWait bounds how long populate waits for the policy file.
var PolicyBusyWait = 10 * time.Second

// writePolicyRetrying waits while another writer holds the policy file:
// ima_open_policy keeps one busy bit for every namespace, so containers
// started together queue up here. Only the open is retried; a refused rule
// is final.
func writePolicyRetrying(fs secfs, rules []string, path string) (int, error) {
	deadline := time.Now().Add(PolicyBusyWait)
	delay := 2 * time.Millisecond
	for {
		n, err := fs.writePolicy(rules, path)
		if errors.Is(err, syscall.EBUSY) && time.Now().After(deadline) {
			// ima_release_policy clears the busy bit only with
			// CONFIG_IMA_WRITE_POLICY; the hook refuses such kernels up
			// front when it can read their config, this is the rest.
			return n, userror.Wrap(err, "IMA policy file", fmt.Sprintf("still busy (EBUSY) after %s: another container may be loading its policy, "+
				"or this kernel keeps the file busy forever after the first load (CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY)", PolicyBusyWait),
				"boot a kernel built with CONFIG_IMA_WRITE_POLICY=y; on such a kernel, retry")
		}
		if !errors.Is(err, syscall.EBUSY) {
			return n, err
		}
		time.Sleep(delay + time.Duration(rand.Int64N(int64(delay))))
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	if _, err := l.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
