// Command goimports-floor is the floor of any runtime wrapper built on
// ima-hook's packages: it links every package the ima-hook binary imports
// (blank imports: their package initialisers run, as in ima-hook, before
// main), then only execs the runtime. What ima-hook's pass-through costs
// above this is its own work (admin config, config.json, the decision);
// what this costs above goexec-floor is the start-up of the libraries a
// wrapper that validates IMA configurations in Go needs (SM2/SM3 through
// gmsm, x509, the policy parser, the C stage's cgo), paid by every
// container the wrapper passes through.
//
// bench/floor/build.sh builds it like ima-hook (static, cgo, the same C
// library); main_test.go keeps its imports equal to cmd/ima-hook's.
package main

import (
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/spf13/pflag"

	_ "github.com/ima-hook/ima-hook/internal/logx"
	_ "github.com/ima-hook/ima-hook/internal/userror"
	_ "github.com/ima-hook/ima-hook/pkg/config"
	_ "github.com/ima-hook/ima-hook/pkg/configure"
	_ "github.com/ima-hook/ima-hook/pkg/enginename"
	_ "github.com/ima-hook/ima-hook/pkg/hook"
	_ "github.com/ima-hook/ima-hook/pkg/kconfig"
	_ "github.com/ima-hook/ima-hook/pkg/keys"
	_ "github.com/ima-hook/ima-hook/pkg/kube"
	_ "github.com/ima-hook/ima-hook/pkg/measure"
	_ "github.com/ima-hook/ima-hook/pkg/ns"
	_ "github.com/ima-hook/ima-hook/pkg/ns/imansid"
	_ "github.com/ima-hook/ima-hook/pkg/ns/nsenter"
	_ "github.com/ima-hook/ima-hook/pkg/oci"
	_ "github.com/ima-hook/ima-hook/pkg/policy"
	_ "github.com/ima-hook/ima-hook/pkg/preflight"
	_ "github.com/ima-hook/ima-hook/pkg/record"
	_ "github.com/ima-hook/ima-hook/pkg/runtime"

	"github.com/ima-hook/ima-hook/bench/floor/internal/execfloor"
)

func main() { execfloor.Main("goimports-floor") }
