// Command genlist writes a synthetic measurement list and the PCR files it
// replays to (for bench/measure.sh and manual checks):
//
//	genlist -n 100000 -template ima-ng -out /tmp/list
//
// writes /tmp/list.bin (binary, sha1 digests), optionally /tmp/list.sha256.bin
// (per-bank binary file) and /tmp/list.ascii, plus /tmp/list.pcrs.sha1 and
// /tmp/list.pcrs.sha256 in evmctl's --pcrs format and /tmp/list.json (the
// namespaces and where their aggregates are).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

func main() {
	n := flag.Int("n", 100000, "entries")
	tmpl := flag.String("template", "ima-ns", "ima-ns or ima-ng")
	nss := flag.Int("namespaces", 4, "IMA namespaces besides the host")
	viol := flag.Int("violations", 5, "violation entries")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("out", "list", "output prefix")
	ascii := flag.Bool("ascii", false, "also write PREFIX.ascii")
	sha256 := flag.Bool("sha256-list", false, "also write PREFIX.sha256.bin (per-bank binary list)")
	nsHeader := flag.Bool("ns-header", false, "write the RFC u32 namespace id after each PCR")
	flag.Parse()
	if err := run(*out, *ascii, *sha256, listgen.Spec{Entries: *n, Template: *tmpl, Namespaces: *nss, Violations: *viol, Seed: *seed, NSHeader: *nsHeader}); err != nil {
		fmt.Fprintln(os.Stderr, "genlist:", err)
		os.Exit(1)
	}
}

func create(path string, files *[]*os.File) (io.Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	*files = append(*files, f)
	return f, nil
}

func run(prefix string, ascii, sha256 bool, spec listgen.Spec) error {
	var files []*os.File
	var w listgen.Writers
	var err error
	if w.Binary, err = create(prefix+".bin", &files); err != nil {
		return err
	}
	if ascii {
		if w.ASCII, err = create(prefix+".ascii", &files); err != nil {
			return err
		}
	}
	if sha256 {
		if w.BinarySHA256, err = create(prefix+".sha256.bin", &files); err != nil {
			return err
		}
	}
	res, err := listgen.Generate(w, spec)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return err
		}
	}
	for _, b := range res.PCRs.Banks {
		f, err := os.Create(prefix + ".pcrs." + b.Alg.String())
		if err != nil {
			return err
		}
		if err := measure.WriteEvmctlPCRs(f, b); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	info, _ := json.MarshalIndent(map[string]any{"entries": res.Entries, "violations": res.Violations, "template": spec.Template, "namespaces": res.Namespaces}, "", "  ")
	return os.WriteFile(prefix+".json", append(info, '\n'), 0o644)
}
