package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/enginename"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/record"
)

func init() {
	register(command{name: "measurements", summary: "read, filter by container or IMA namespace, verify and export measurement lists", run: runMeasurements})
}

const measurementsUsage = `Usage: ima-hook measurements [flags]

Reads an IMA measurement list (by default the host's, through securityfs),
prints the entries of one container or IMA namespace, or all of them, as
ascii_runtime_measurements lines or JSON, and verifies the list.

On the host one list holds every namespace's entries; the ima-ns template
tags each with its namespace id, and every namespace extends the same
PCR 10. So a container's view is verified by replaying the WHOLE host list
against the TPM, then filtering: --verify always replays everything, the
output and the allowlist cover the selected entries.

Selecting entries:
  --container C    the container's IMA namespace, found through the hook's
                   records (live: <run-dir>/<id>.json, stopped:
                   <archive-dir>/<id>/<life>/record.json); the record says
                   where its ns_aggregate entry is in the host list. C is the
                   container id, a name its engine recorded (nerdctl, CRI-O,
                   containerd's CRI) or a unique id prefix such as the
                   12-character short id; failing those, the id podman or
                   Docker gives for the name (they record no name: asked
                   when on PATH, 5 s each). stderr says which container
                   was picked and how. Each container with a reused id is one life: the
                   latest is taken, the others are listed (--life picks one).
                   The directories are the admin config's run_dir and
                   archive_dir (--config), or --run-dir and --archive-dir.
  --pod NS/NAME    the IMA namespace of Kubernetes pod NAME in namespace NS,
                   from the records' Kubernetes identity (the latest pod of
                   that name): with io.imans.scope=pod the pod's one
                   namespace; with one namespace per container, --container
                   NAME picks the container by its name in the pod spec
  --ns ID          IMA namespace ID (the nsfs inode: ns_aggregate_<ID>,
                   "readlink /proc/<pid>/ns/ima")
  A namespace's view starts at its ns_aggregate_<ID> entry and ends at the
  next ns_aggregate_<ID>: the kernel reuses ids after a namespace is gone.
  --incarnation picks which namespace had the id (default: the last one).
  A container stopped in an earlier boot is read from the view archived at
  poststop (<archive-dir>/<id>/<life>/ascii_runtime_measurements).

Verifying (--verify): every template digest, the ns_aggregate entries, the
boot_aggregate (when PCRs 0-9 are known), and a replay of the reference's
banks (sha1, sha256, sha384, sha512, sm3_256) by the kernel's rules (violations extend 0xff; pre-5.8 kernels extended
zero-padded SHA1 digests, tried when the 5.8+ rules do not match) against
--pcrs files or, without them, /sys/class/tpm/tpm0/pcr-<alg>/<n> (read before
the list: entries logged later are reported as not covered). With
--allowlist (keylime runtime policy: "digests", "excludes"), selected files
that are not allowed fail the verification.

Verification passes only when every check it was asked for ran and held: a
digest, bank or aggregate that cannot be computed here is reported as NOT
CHECKED and the verification is INCOMPLETE (exit 1).

Exit status: 0 read (and verified) fine; 1 the list is malformed, failed
verification or could not be fully verified (the first failing entry is
named: index, byte offset or line, name); 2 a usage problem or a file that
cannot be read.

Examples:
  ima-hook measurements --container web-1
  ima-hook measurements --ns 4026532329 --format json
  ima-hook measurements --pod default/web --container app
  ima-hook measurements --verify --pcrs sha1,pcrs.sha1 --pcrs sha256,pcrs.sha256 --file list.bin
  ima-hook measurements --container web-1 --verify --allowlist policy.json

Flags:
`

type measurementsFlags struct {
	file, inputFormat, bank, byteOrder, nsByteOrder string
	nsHeader                                        bool
	layout                                          string
	maxEntry                                        int
	container, life, nsID, incarnation              string
	configPath, runDir, archiveDir                  string
	format                                          string
	verify, templateOnly                            bool
	pcrs                                            []string
	tpm, variant, allowlist                         string
	incarnationSet                                  bool
	pod                                             string
}

func runMeasurements(args []string) int {
	return measurementsMain(args, os.Stdout, os.Stderr)
}

func measurementsMain(args []string, stdout, stderr io.Writer) int {
	var f measurementsFlags
	fs := pflag.NewFlagSet("measurements", pflag.ContinueOnError)
	fs.StringVar(&f.file, "file", "", "read the list from `PATH` (\"-\" = stdin; default: the host's binary_runtime_measurements)")
	fs.StringVar(&f.inputFormat, "input-format", "auto", "list encoding: auto, binary or ascii")
	fs.StringVar(&f.bank, "bank", "", "`ALGO` of the template digests in the list (default: from a per-bank file name such as binary_runtime_measurements_sha256, else sha1)")
	fs.StringVar(&f.byteOrder, "byte-order", "auto", "integers in the binary list: auto, little (x86, arm64, ima_canonical_fmt) or big")
	fs.StringVar(&f.nsByteOrder, "ns-byte-order", "", "byte order of the ima-ns ns field, which the kernel never converts (default: as --byte-order)")
	fs.StringVar(&f.layout, "layout", "auto", "binary record layout: auto (detected from the first records), plain, or ns-header (a u32 namespace id after the PCR, 2020 RFC)")
	fs.BoolVar(&f.nsHeader, "ns-header", false, "same as --layout ns-header")
	_ = fs.MarkHidden("ns-header")
	fs.IntVar(&f.maxEntry, "max-entry-size", measure.DefaultLimits.MaxTemplateData, "largest template data of one entry, in `BYTES`")
	fs.StringVar(&f.container, "container", "", "select the entries of the IMA namespace of the container with `ID`, name or unique id prefix")
	fs.StringVar(&f.pod, "pod", "", "select the entries of Kubernetes pod `NAMESPACE/NAME` (live or archived); with --container, of its container of that name")
	fs.StringVar(&f.life, "life", "", "with --container: the container's `LIFE` (as listed) when its id was used more than once (default: the latest)")
	fs.StringVar(&f.nsID, "ns", "", "select the entries of IMA namespace `ID`")
	fs.StringVar(&f.incarnation, "incarnation", "last", "when the namespace id was reused: last, all, or N (the N-th namespace with the id)")
	fs.StringVar(&f.configPath, "config", "", "admin config `FILE` whose run_dir and archive_dir hold the records (default "+config.DefaultPath+")")
	fs.StringVar(&f.runDir, "run-dir", "", "live container records `DIR` (default: run_dir of the admin config, "+record.DefaultRunDir+")")
	fs.StringVar(&f.archiveDir, "archive-dir", "", "archived container records `DIR` (default: archive_dir of the admin config, "+record.DefaultArchiveDir+")")
	fs.StringVar(&f.format, "format", "ascii", "output: ascii (kernel ascii_runtime_measurements lines), json (one object per line, summary last) or none")
	fs.BoolVar(&f.verify, "verify", false, "verify template digests and replay the PCRs")
	fs.StringArrayVar(&f.pcrs, "pcrs", nil, "reference PCR values: `[ALGO,]FILE` with PCR-NN: <hex> lines (evmctl; ALGO defaults to sha1) or tpm2_pcrread output; repeatable")
	fs.StringVar(&f.tpm, "tpm", measure.DefaultTPMSysfs, "TPM sysfs `DIR` with pcr-<alg>/<n> files, used without --pcrs")
	fs.BoolVar(&f.templateOnly, "template-only", false, "verify without reference PCRs (template digests and aggregates only; the PCRs are computed and shown)")
	fs.StringVar(&f.variant, "variant", "auto", "replay rules for non-sha1 banks: auto, per-bank (5.8+) or padded (before 5.8)")
	fs.StringVar(&f.allowlist, "allowlist", "", "keylime runtime policy `FILE`: flag selected files whose digest it does not allow")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, measurementsUsage)
		fs.PrintDefaults()
	}
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, userror.Line(userror.New("measurements", fmt.Sprintf("unexpected argument %s", userror.Quote(fs.Arg(0))), "give the list with --file")))
		return 2
	}
	f.incarnationSet = fs.Changed("incarnation")
	return measurements(f, stdout, stderr)
}

func measurements(f measurementsFlags, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, userror.Line(err))
		return 2
	}
	opt, err := readOptions(f)
	if err != nil {
		return fail(err)
	}
	opt.Out = stdout
	open := listSource(f, &opt)
	if f.bank != "" {
		if opt.Read.Bank, err = measure.ParseAlg(f.bank); err != nil {
			return fail(userror.Wrapf(err, "--bank", "name the bank of the list's template digests", ""))
		}
	}
	if open, err = selectEntries(f, &opt, open, stderr); err != nil {
		return fail(err)
	}
	if err := verifyOptions(f, &opt); err != nil {
		return fail(err)
	}

	sum, err := measure.Run(open, opt)
	if err != nil {
		if errors.Is(err, measure.ErrSelection) {
			return fail(userror.Wrap(err, selectionSubject(f), strings.TrimPrefix(err.Error(), "selection: "),
				"a record indexes the host list of the boot it was made in; for another list select with --incarnation"))
		}
		return fail(err)
	}
	if opt.Output == measure.OutputJSON {
		line, _ := json.Marshal(sum)
		fmt.Fprintf(stdout, "%s\n", line)
	}
	printSummary(stderr, sum)
	if !sum.Passed {
		return 1
	}
	return 0
}

// readOptions turns the format flags into run options.
func readOptions(f measurementsFlags) (measure.RunOptions, error) {
	var opt measure.RunOptions
	var err error
	if opt.Format, err = measure.ParseFormat(f.inputFormat); err != nil {
		return opt, userror.Wrapf(err, "--input-format", "use auto, binary or ascii", "")
	}
	if opt.Read.Order, err = measure.ParseByteOrder(f.byteOrder); err != nil {
		return opt, userror.Wrapf(err, "--byte-order", "use auto, little or big", "")
	}
	if f.nsByteOrder != "" {
		if opt.Read.NSOrder, err = measure.ParseByteOrder(f.nsByteOrder); err != nil {
			return opt, userror.Wrapf(err, "--ns-byte-order", "use little or big", "")
		}
	}
	if f.maxEntry < 64 || f.maxEntry > 64<<20 {
		return opt, userror.New("--max-entry-size", fmt.Sprintf("%d is out of range", f.maxEntry), "use 64 bytes to 64 MiB")
	}
	opt.Read.Limits.MaxTemplateData = f.maxEntry
	if opt.Read.Layout, err = measure.ParseLayout(f.layout); err != nil {
		return opt, userror.Wrapf(err, "--layout", "use auto, plain or ns-header", "")
	}
	if f.nsHeader {
		if opt.Read.Layout == measure.LayoutPlain {
			return opt, userror.New("--ns-header", "contradicts --layout plain", "give one of them")
		}
		opt.Read.Layout = measure.LayoutNSHeader
	}
	if opt.Output, err = measure.ParseOutput(f.format); err != nil {
		return opt, userror.Wrapf(err, "--format", "use ascii, json or none", "")
	}
	return opt, nil
}

// listSource says where the list comes from; a file's name may tell its
// format and bank.
func listSource(f measurementsFlags, opt *measure.RunOptions) func() (io.ReadCloser, error) {
	switch f.file {
	case "":
		var open func() (io.ReadCloser, error)
		opt.Source, open = hostList()
		opt.Reopenable = true
		return open
	case "-":
		opt.Source = "stdin"
		used := false
		return func() (io.ReadCloser, error) {
			if used {
				return nil, errors.New("stdin cannot be read twice")
			}
			used = true
			return io.NopCloser(os.Stdin), nil
		}
	}
	opt.Source = f.file
	opt.Reopenable = true
	nameFormat, nameBank := measure.FromFileName(f.file)
	if opt.Format == measure.AutoFormat {
		opt.Format = nameFormat
	}
	opt.Read.Bank = nameBank
	return fileOpener(f.file)
}

// selectEntries sets up the namespace filter of --container or --ns. It may
// switch the source to a container's archived view.
func selectEntries(f measurementsFlags, opt *measure.RunOptions, open func() (io.ReadCloser, error), stderr io.Writer) (func() (io.ReadCloser, error), error) {
	if f.pod != "" {
		// --pod finds the container whose namespace holds the pod's view
		// (cmd_pod.go); from there it is --container with that id.
		if err := resolvePod(&f, stderr); err != nil {
			return nil, err
		}
	}
	if f.container != "" && f.nsID != "" {
		return nil, userror.New("--container", "given together with --ns", "use one of them")
	}
	if f.life != "" && f.container == "" {
		return nil, userror.New("--life", "given without --container", "name the container with --container")
	}
	if f.container == "" && f.nsID == "" {
		return open, nil
	}
	start := int64(-1)
	sel := &measure.Selection{Incarnation: f.incarnation}
	if f.container != "" {
		store, err := recordStore(f)
		if err != nil {
			return nil, err
		}
		life, err := pickContainer(store, f, stderr)
		if err != nil {
			return nil, err
		}
		rec, live, id := life.Record, life.Live, life.ContainerID
		subject := "--container " + f.container
		if rec.NS == 0 {
			return nil, userror.New(subject, "the container has no IMA namespace (record result: "+rec.Result+")",
				"run it with the runtime wrapper and the io.imans.* annotations")
		}
		sel.NS, sel.Container = rec.NS, id
		// The record's index counts entries of the host list of the boot it
		// was made in (the filter checks that the aggregate is there);
		// --incarnation selects in other lists.
		if !f.incarnationSet && rec.AggregateIndex >= 0 {
			start = rec.AggregateIndex
			sel.StartIndex = &start
			sel.Incarnation = ""
		}
		// A live container created by the wrapper: its namespace's aggregate
		// is the first ns_aggregate_<id> at or after the list length the
		// wrapper noted before creating it (later namespaces may reuse the id).
		if !f.incarnationSet && start < 0 && live && rec.Start() >= 0 && opt.Reopenable {
			a, err := lifeStart(open, *opt, rec.NS, rec.Start())
			if err != nil {
				return nil, err
			}
			if a >= 0 {
				start = a
				sel.StartIndex = &start
				sel.Incarnation = ""
			}
		}
		// A stopped container of an earlier boot: the host list no longer
		// has its entries, the view archived at poststop does.
		view := life.ViewPath()
		if !live && f.file == "" && start >= 0 && !measure.AggregateAt(open, opt.Format, opt.Read, start, rec.NS) && exists(view) {
			if f.verify && !f.templateOnly {
				return nil, userror.New(subject, "the container ran in an earlier boot: the host list no longer has its entries, and its archived view cannot be replayed against this boot's PCRs",
					"check the archived view with --verify --template-only")
			}
			fmt.Fprintf(stderr, "ima-hook: measurements: container %s stopped in an earlier boot: reading the view archived at poststop, %s\n", id, view)
			opt.Source, opt.Format, opt.Read.Bank = view, measure.ASCIIList, measure.AlgUnknown
			open = fileOpener(view)
			start, sel.StartIndex, sel.Incarnation = -1, nil, "all (archived view)"
			f.incarnation = "all"
		}
	} else {
		id, err := strconv.ParseUint(f.nsID, 10, 32)
		if err != nil {
			return nil, userror.New("--ns", fmt.Sprintf("%s is not a namespace id", userror.Quote(f.nsID)),
				"give the decimal inode number, e.g. 4026532329 from ns_aggregate_4026532329 or readlink /proc/<pid>/ns/ima")
		}
		sel.NS = imansid.ID(id)
	}
	incarnation := 0
	if start < 0 {
		switch f.incarnation {
		case "all":
		case "last":
			if !opt.Reopenable {
				return nil, userror.New("--incarnation last", "needs a first pass over the list, which stdin cannot give",
					"pass --incarnation all or N, or read the list from a file")
			}
			last, err := lifeStart(open, *opt, sel.NS, -1)
			if err != nil {
				return nil, err
			}
			if last >= 0 {
				start = last
				sel.StartIndex = &start
			} else {
				// No aggregate: a namespace's own view read from inside it,
				// or a kernel that logs none. Take every entry.
				sel.Incarnation = "all (no ns_aggregate entry)"
			}
		default:
			n, err := strconv.Atoi(f.incarnation)
			if err != nil || n < 1 {
				return nil, userror.New("--incarnation", fmt.Sprintf("%s is not last, all or a number from 1", userror.Quote(f.incarnation)), "use last, all or N")
			}
			incarnation = n
		}
	}
	opt.Filter = measure.NewNSFilter(sel.NS, start, incarnation)
	opt.Selection = sel
	return open, nil
}

// recordStore is where the records are: --run-dir and --archive-dir, else
// the admin config's run_dir and archive_dir (the hook writes there).
func recordStore(f measurementsFlags) (record.Store, error) {
	s := record.Store{RunDir: f.runDir, ArchiveDir: f.archiveDir}
	if s.RunDir != "" && s.ArchiveDir != "" {
		return s, nil
	}
	a, err := config.LoadAdmin(f.configPath)
	if err != nil {
		return s, err
	}
	if s.RunDir == "" {
		s.RunDir = a.RunDir
	}
	if s.ArchiveDir == "" {
		s.ArchiveDir = a.ArchiveDir
	}
	return s, nil
}

// pickContainer finds the container --container names and the life of it
// to read: --life, or the latest. It says on stderr which one it took when
// that is not plain from the command line, and lists the other lives.
func pickContainer(store record.Store, f measurementsFlags, stderr io.Writer) (record.Life, error) {
	subject := "--container " + f.container
	id, by, err := store.Find(f.container)
	var amb *record.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return record.Life{}, userror.Wrapf(err, subject, "give more of the id, or the full id", "")
	case errors.Is(err, fs.ErrNotExist):
		// podman and Docker put no name into config.json, so their
		// containers' records have ids only: ask the engines.
		var tried string
		id, by, tried, err = findThroughEngines(store, f.container)
		if errors.Is(err, fs.ErrNotExist) {
			return record.Life{}, userror.Wrap(err, subject, "no record of a container with this id, name or id prefix in "+store.RunDir+" or "+store.ArchiveDir+" ("+tried+")",
				"check the name or id (as the engine shows it) and --config, or --run-dir/--archive-dir")
		}
		if err != nil {
			return record.Life{}, userror.Wrapf(err, subject, "give the container's id", "")
		}
	case err != nil:
		return record.Life{}, userror.Wrapf(err, subject, "check the record files", "")
	}
	lives, err := store.Lives(id)
	if err != nil {
		return record.Life{}, userror.Wrapf(err, subject, "check the record files (move a damaged one away)", "")
	}
	pick := len(lives) - 1
	if f.life != "" {
		pick = -1
		for i, l := range lives {
			if l.Key == f.life {
				pick = i
			}
		}
		if pick < 0 {
			return record.Life{}, userror.New("--life "+f.life, "container "+id+" has no such life (it has "+lifeKeys(lives)+")", "give one of those")
		}
	}
	life := lives[pick]
	if by != record.ByID || len(lives) > 1 {
		how := ""
		if by != record.ByID {
			how = " (by " + by + ")"
		}
		fmt.Fprintf(stderr, "ima-hook: measurements: %s: container %s%s, life %s\n", subject, id, how, describeLife(life))
	}
	if len(lives) > 1 {
		var others []string
		for i, l := range lives {
			if i != pick {
				others = append(others, describeLife(l))
			}
		}
		fmt.Fprintf(stderr, "ima-hook: measurements: container %s has %d other lives with this id: %s; pick one with --life\n", id, len(others), strings.Join(others, "; "))
	}
	return life, nil
}

// engineTimeout bounds each engine's answer (findThroughEngines).
var engineTimeout = 5 * time.Second

// findThroughEngines asks the engines on PATH (enginename.Engines) for the
// id of the container called name and finds that id's records. It returns
// the id and how it was found ("podman name"), or an error wrapping
// fs.ErrNotExist with tried saying what each engine answered. Engines that
// name different containers with records make it ambiguous; an engine's
// failure only counts as its answer.
func findThroughEngines(store record.Store, name string) (id, by, tried string, err error) {
	var said []string
	found := map[string][]string{} // id with records -> engines naming it
	var order []string
	for _, a := range enginename.Resolve(context.Background(), enginename.Engines, name, engineTimeout) {
		switch {
		case errors.Is(a.Err, enginename.ErrNotOnPath):
			said = append(said, a.Engine+" (not on PATH)")
		case a.Err != nil:
			said = append(said, a.Engine+" ("+a.Err.Error()+")")
		default:
			if _, err := store.Lives(a.ID); errors.Is(err, fs.ErrNotExist) {
				said = append(said, a.Engine+" (container "+a.ID+", which has no record)")
				continue
			} else if err != nil {
				return "", "", "", err
			}
			if found[a.ID] == nil {
				order = append(order, a.ID)
			}
			found[a.ID] = append(found[a.ID], a.Engine)
		}
	}
	switch len(order) {
	case 0:
		return "", "", "asked " + strings.Join(said, ", "), fmt.Errorf("%q: %w", name, fs.ErrNotExist)
	case 1:
		return order[0], strings.Join(found[order[0]], " and ") + " name", "", nil
	}
	var list []string
	for _, id := range order {
		list = append(list, id+" ("+strings.Join(found[id], ", ")+")")
	}
	return "", "", "", fmt.Errorf("the engines name different containers %q: %s", name, strings.Join(list, ", "))
}

func describeLife(l record.Life) string {
	d := l.Key
	switch {
	case l.Live:
		d += " (live, created " + l.Time.Format(time.RFC3339) + ")"
	case !l.Stopped.IsZero():
		d += " (created " + l.Time.Format(time.RFC3339) + ", stopped " + l.Stopped.Format(time.RFC3339) + ")"
	default:
		d += " (created " + l.Time.Format(time.RFC3339) + ", " + orDefault(l.Archived, "archived") + ")"
	}
	return d
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func lifeKeys(lives []record.Life) string {
	keys := make([]string, len(lives))
	for i, l := range lives {
		keys[i] = l.Key
	}
	return strings.Join(keys, ", ")
}

// verifyOptions loads what --verify and --allowlist need.
func verifyOptions(f measurementsFlags, opt *measure.RunOptions) error {
	if !f.verify && f.allowlist == "" {
		return nil
	}
	opt.Verify = true
	var err error
	if opt.VerifyOptions.Variant, err = measure.ParseVariant(f.variant); err != nil {
		return userror.Wrapf(err, "--variant", "use auto, per-bank or padded", "")
	}
	if f.allowlist != "" {
		if opt.VerifyOptions.Allowlist, err = measure.LoadAllowlist(f.allowlist); err != nil {
			return userror.Wrapf(err, "--allowlist", "give a keylime runtime policy (JSON with digests and excludes)", "")
		}
	}
	if f.verify {
		if opt.VerifyOptions.Reference, err = loadReference(f); err != nil {
			return err
		}
	}
	return nil
}

// hostList opens the host's binary list through the kernel seam (the
// emulator's in imaemu builds); a variable so tests can stand in for it.
var hostList = func() (string, func() (io.ReadCloser, error)) {
	k := ns.Default()
	source := k.Probe().SecurityFSDir + "/binary_runtime_measurements"
	return source, func() (io.ReadCloser, error) {
		rc, err := k.OpenMeasurements(true)
		if err != nil {
			return nil, userror.Wrapf(err, source, "run as root on a kernel with IMA and securityfs mounted, or pass --file", "cannot read the host measurement list")
		}
		return rc, nil
	}
}

func fileOpener(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := os.Open(path)
		if err != nil {
			return nil, userror.Wrapf(err, "--file", "give a readable measurement list", "")
		}
		return rc, nil
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func selectionSubject(f measurementsFlags) string {
	if f.container != "" {
		return "--container " + f.container
	}
	return "--ns " + f.nsID
}

// lifeStart is measure.LifeStartIn, except that a malformed list is left
// to the main pass, which reports it with its position.
func lifeStart(open func() (io.ReadCloser, error), opt measure.RunOptions, id imansid.ID, listStart int64) (int64, error) {
	aggs, err := measure.AggregatesIn(open, opt.Format, opt.Read, id)
	var fe *measure.FormatError
	if err != nil && !errors.As(err, &fe) {
		return -1, err
	}
	return measure.NSLifeStart(aggs, listStart), nil
}

// loadReference reads --pcrs files, or the TPM's sysfs PCRs, before the list.
func loadReference(f measurementsFlags) (*measure.PCRSet, error) {
	set := &measure.PCRSet{}
	if len(f.pcrs) > 0 {
		for _, s := range f.pcrs {
			spec, err := measure.ParsePCRSpec(s)
			if err != nil {
				return nil, userror.Wrapf(err, "--pcrs "+s, "use [ALGO,]FILE, e.g. sha256,pcrs.txt", "")
			}
			banks, err := measure.LoadPCRFile(spec)
			if err != nil {
				return nil, userror.Wrapf(err, "--pcrs "+s, "give PCR-NN: <hex> lines (evmctl) or tpm2_pcrread output", "")
			}
			for _, b := range banks {
				if err := set.Add(b); err != nil {
					return nil, userror.Wrapf(err, "--pcrs "+s, "give each bank once", "")
				}
			}
		}
		return set, nil
	}
	if f.templateOnly {
		return nil, nil
	}
	set, err := measure.ReadSysfsPCRs(f.tpm)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, userror.Wrap(err, f.tpm, "no TPM PCR values (no pcr-<alg> directories)",
				"pass --pcrs [ALGO,]FILE, or --template-only to check template digests without PCRs")
		}
		return nil, userror.Wrapf(err, f.tpm, "pass --pcrs [ALGO,]FILE instead", "")
	}
	return set, nil
}

func printSummary(w io.Writer, s *measure.Summary) {
	if s.Error != "" {
		fmt.Fprintf(w, "ima-hook: %s: %s; the list is malformed or truncated (entries before it were read)\n", s.Source, s.Error)
	}
	if s.Selection != nil {
		from := ""
		if s.Selection.StartIndex != nil {
			from = fmt.Sprintf(" from entry %d", *s.Selection.StartIndex)
		}
		who := fmt.Sprintf("namespace %d", s.Selection.NS)
		if s.Selection.Container != "" {
			who = fmt.Sprintf("container %s (namespace %d)", s.Selection.Container, s.Selection.NS)
		}
		fmt.Fprintf(w, "ima-hook: measurements: %s: %d of %d entries selected%s (%d ns_aggregate entries with this id in the list)\n",
			who, s.Selected, s.Entries, from, s.Selection.IncarnationsSeen)
		if s.Selection.Unattributed > 0 {
			fmt.Fprintf(w, "ima-hook: measurements: %s: %d entries in its span carry no namespace id (their template has no ns field) and could not be attributed: they may be its own and are not shown; read the view archived at poststop, or boot the host with ima_template=ima-ns\n",
				who, s.Selection.Unattributed)
		}
	}
	if s.Layout == measure.LayoutNSHeader.String() && s.LayoutDetected {
		fmt.Fprintf(w, "ima-hook: measurements: %s: the records carry a namespace id after the PCR (2020 RFC layout, detected; --layout to force one)\n", s.Source)
	}
	v := s.Verify
	if v == nil {
		return
	}
	var parts []string
	list := s.Format + " list"
	if s.Layout != "" {
		how := "given"
		if s.LayoutDetected {
			how = "detected"
		}
		list += fmt.Sprintf(", %s layout (%s)", s.Layout, how)
	}
	parts = append(parts, fmt.Sprintf("%d entries (%s, %s digests)", s.Entries, list, s.DigestAlg))
	parts = append(parts, fmt.Sprintf("%d template digest mismatches, %d violations", v.TemplateMismatches, v.Violations))
	if v.TemplateUnchecked > 0 {
		parts = append(parts, fmt.Sprintf("%d template digests NOT CHECKED", v.TemplateUnchecked))
	}
	switch {
	case !v.Compared && v.BankUnchecked():
		parts = append(parts, "no reference bank could be replayed: replay NOT COMPARED")
	case !v.Compared:
		parts = append(parts, "no reference PCRs: replay not compared")
	case v.Matched:
		var banks []string
		for _, p := range v.PCRs {
			if p.Match && p.Reference != "" {
				banks = append(banks, fmt.Sprintf("PCR %d %s", p.PCR, p.Bank))
			}
		}
		parts = append(parts, fmt.Sprintf("%s match (%s rules)", strings.Join(banks, ", "), v.Variant))
		if v.Covered < s.Entries {
			parts = append(parts, fmt.Sprintf("the last %d entries were logged after the PCRs were read and are not covered", s.Entries-v.Covered))
		}
	}
	parts = append(parts, "boot_aggregate "+v.BootAggregate)
	if v.Allowlist != nil {
		parts = append(parts, fmt.Sprintf("allowlist: %d checked, %d flagged", v.Allowlist.Checked, v.Allowlist.Flagged))
	}
	verdict := "passed"
	switch {
	case v.FailureCount > 0:
		verdict = "FAILED"
	case !v.Passed:
		// Nothing failed, but not everything asked for was checked:
		// never a pass.
		verdict = "INCOMPLETE"
	}
	fmt.Fprintf(w, "ima-hook: measurements: verification %s: %s\n", verdict, strings.Join(parts, "; "))
	for _, u := range v.Unchecked {
		what := u.Check
		if u.Alg != "" {
			what += " (" + u.Alg + ")"
		}
		if u.Check == "template digests" {
			what = fmt.Sprintf("%d %s", u.Count, what)
		}
		switch {
		case u.Index < 0:
		case u.Line > 0:
			what += fmt.Sprintf(" from entry %d (line %d) %q", u.Index, u.Line, u.Name)
		case u.Offset != nil:
			what += fmt.Sprintf(" from entry %d (byte %d) %q", u.Index, *u.Offset, u.Name)
		}
		fmt.Fprintf(w, "ima-hook: measurements: NOT CHECKED: %s: %s; the verification is incomplete, do not rely on it (give reference PCRs and a list of banks this build computes)\n", what, u.Reason)
	}
	for i, fl := range v.Failures {
		if i == 5 {
			fmt.Fprintf(w, "ima-hook: measurements: ... %d more failures (--format json lists up to %d)\n", v.FailureCount-5, len(v.Failures))
			break
		}
		where := ""
		switch {
		case fl.Index < 0:
		case fl.Line > 0:
			where = fmt.Sprintf("entry %d (line %d) %q: ", fl.Index, fl.Line, fl.Name)
		case fl.Offset != nil:
			where = fmt.Sprintf("entry %d (byte %d) %q: ", fl.Index, *fl.Offset, fl.Name)
		}
		fmt.Fprintf(w, "ima-hook: measurements: %s%s\n", where, fl.Reason)
	}
}
