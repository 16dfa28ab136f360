package main

import (
	"os"

	"github.com/ima-hook/ima-hook/cmd/ima-hook/preflightcmd"
)

// `ima-hook preflight`: the command itself is cmd/ima-hook/preflightcmd.
func init() {
	register(command{name: "preflight", summary: preflightcmd.Summary, run: func(args []string) int {
		return preflightcmd.Run(args, os.Stdout, os.Stderr)
	}})
}
