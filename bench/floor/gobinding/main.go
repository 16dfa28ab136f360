// Command gobinding-floor is the floor of any runtime wrapper of this
// design, whoever writes it: it links only what such a wrapper cannot do
// without (blank imports, so their package initialisers run before main as
// in ima-hook), then only execs the runtime:
//
//   - the C stage (pkg/ns/nsenter, with cgo): the namespace is created by a
//     single-threaded task before the Go runtime starts threads, so the
//     binary carries a C constructor that runs at every start;
//   - gmsm's smx509 and crypto/x509: the key a container names is
//     validated before anything is created, and openEuler's keys are SM2
//     certificates, which the standard library cannot parse (an SM2 curve
//     is an unsupported curve to crypto/x509);
//   - runtime-spec, pflag and x/sys/unix (the design card), go-toml (the
//     admin config) and encoding/json (config.json).
//
// What goimports-floor costs above this is ima-hook's other packages
// (logging to journald and syslog, the preflight's ELF reading, the
// kernel config's gzip, its own package variables); what this costs above
// goexec-floor no Go wrapper of this design can avoid.
//
// bench/floor/build.sh builds it like ima-hook (static, cgo, the same C
// library); main_test.go checks that ima-hook links everything it links.
package main

import (
	_ "crypto/x509"
	_ "encoding/json"

	_ "github.com/emmansun/gmsm/smx509"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/pelletier/go-toml/v2"
	_ "github.com/spf13/pflag"
	_ "golang.org/x/sys/unix"

	_ "github.com/ima-hook/ima-hook/pkg/ns/nsenter"

	"github.com/ima-hook/ima-hook/bench/floor/internal/execfloor"
)

func main() { execfloor.Main("gobinding-floor") }
