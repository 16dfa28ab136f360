package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/record"
)

func init() {
	register(command{name: "list", summary: "list live and archived containers with their pod, IMA namespace, result and counts", run: func(args []string) int {
		return listMain(args, os.Stdout, os.Stderr)
	}})
}

const listUsage = `Usage: ima-hook list [--json] [--config FILE | --run-dir DIR --archive-dir DIR]

Lists every container the hook has a record of, live (run_dir) and stopped
(archive_dir, one line per life), oldest first: its id, state, Kubernetes
pod and container (from the CRI annotations) or engine name, IMA namespace
id, result, and the measurement and violation counts the record holds
(taken when the hook populated the namespace, and again at poststop for
archived lives). 'ima-hook measurements --pod NS/NAME' or '--container ID'
prints and verifies one of them.

Flags:
`

// listEntry is one line of the list (one object of --json).
type listEntry struct {
	ContainerID  string         `json:"container_id"`
	Life         string         `json:"life"`
	State        string         `json:"state"` // live or stopped
	Kubernetes   *kube.Identity `json:"kubernetes,omitempty"`
	Names        []string       `json:"names,omitempty"`
	NS           imansid.ID     `json:"ns_id"`
	Result       string         `json:"result"`
	Measurements uint64         `json:"measurement_count"`
	Violations   uint64         `json:"violations"`
	Created      time.Time      `json:"time"`
	Stopped      time.Time      `json:"stopped,omitzero"`
}

func listMain(args []string, stdout, stderr io.Writer) int {
	var f measurementsFlags
	var asJSON bool
	fs := pflag.NewFlagSet("list", pflag.ContinueOnError)
	fs.BoolVar(&asJSON, "json", false, "one JSON object per container life, one a line")
	fs.StringVar(&f.configPath, "config", "", "admin config `FILE` whose run_dir and archive_dir hold the records (default "+config.DefaultPath+")")
	fs.StringVar(&f.runDir, "run-dir", "", "live container records `DIR` (default: run_dir of the admin config)")
	fs.StringVar(&f.archiveDir, "archive-dir", "", "archived container records `DIR` (default: archive_dir of the admin config)")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, listUsage)
		fs.PrintDefaults()
	}
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, userror.Line(userror.New("list", "unexpected argument "+userror.Quote(fs.Arg(0)), "run 'ima-hook list' without arguments")))
		return 2
	}
	store, err := recordStore(f)
	if err != nil {
		fmt.Fprintln(stderr, userror.Line(err))
		return 2
	}
	entries, err := listEntries(store)
	if err != nil {
		fmt.Fprintln(stderr, userror.Line(userror.Wrapf(err, store.RunDir+", "+store.ArchiveDir, "check the record files (move a damaged one away)", "")))
		return 2
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return 2
			}
		}
		return 0
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CONTAINER\tSTATE\tPOD\tCONTAINER NAME\tIMA NS\tRESULT\tMEASUREMENTS\tVIOLATIONS")
	for _, e := range entries {
		pod, name := "-", "-"
		if k := e.Kubernetes; k != nil {
			pod = orDefault(k.PodName(), "-")
			name = orDefault(k.Container, "-")
			if k.Sandbox {
				name = "(sandbox)"
			}
		} else if len(e.Names) > 0 {
			name = e.Names[0]
		}
		ns := "-"
		if e.NS != 0 {
			ns = strconv.FormatUint(uint64(e.NS), 10)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", shortID(e.ContainerID), e.State, userror.Text(pod), userror.Text(name), ns,
			userror.Text(e.Result), e.Measurements, e.Violations)
	}
	_ = w.Flush()
	return 0
}

// listEntries reads every life of every container with a record, oldest
// first.
func listEntries(store record.Store) ([]listEntry, error) {
	ids, err := store.IDs()
	if err != nil {
		return nil, err
	}
	var out []listEntry
	for _, id := range ids {
		lives, err := store.Lives(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, err
		}
		for _, l := range lives {
			state := "stopped"
			if l.Live {
				state = "live"
			}
			out = append(out, listEntry{ContainerID: id, Life: l.Key, State: state, Kubernetes: l.Kubernetes, Names: l.Names, NS: l.NS,
				Result: l.Result, Measurements: l.Measurement, Violations: l.Violations, Created: l.Time, Stopped: l.Stopped})
		}
	}
	// Stable: the lives of one id are already in order.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// shortID is the 12-character form engines show for their 64-digit hex
// ids; any other id is shown whole.
func shortID(id string) string {
	if len(id) != 64 {
		return id
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return id
		}
	}
	return id[:12]
}
