package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ima-hook/ima-hook/pkg/ns"
)

// runtimeLog is where the runtime of inv writes its errors: the global
// --log, made absolute against our working directory (the runtime would
// resolve it the same way), in JSON when --log-format is json. containerd
// and Docker (go-runc) report to the user only the last error entry of this
// file when the runtime fails; the runtime's stderr is not shown. podman and
// CRI-O pass no --log and show stderr.
func runtimeLog(inv *Invocation) ns.RuntimeLog {
	if inv == nil || inv.Log == "" {
		return ns.RuntimeLog{}
	}
	path, err := filepath.Abs(inv.Log)
	if err != nil {
		return ns.RuntimeLog{}
	}
	return ns.RuntimeLog{Path: path, JSON: inv.LogFormat == "json"}
}

// appendRuntimeLog appends line as one error entry in the runtime's log
// format: the logrus JSON object runc writes ({"level","msg","time"}: what
// go-runc decodes, time included), or logrus text. The C stage writes the
// same shape for its own failures (nsenter.c log_error).
func appendRuntimeLog(l ns.RuntimeLog, line string, now time.Time) error {
	if l.Path == "" {
		return nil
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	var entry []byte
	if l.JSON {
		var err error
		entry, err = json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{"error", line, ts})
		if err != nil {
			return err
		}
	} else {
		entry = []byte("time=" + strconv.Quote(ts) + " level=error msg=" + strconv.Quote(line))
	}
	// O_NOFOLLOW, and the mode runc creates the file with.
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(entry, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LogRefusal puts line into the runtime log of inv, if it names one: for
// refusals made before a Wrapper runs (admin config, runtime lookup).
func LogRefusal(inv *Invocation, line string) error {
	return appendRuntimeLog(runtimeLog(inv), line, time.Now())
}
