package main

import (
	"os"

	"github.com/ima-hook/ima-hook/pkg/policy/checkcmd"
)

// `ima-hook policy check`: the command itself is pkg/policy/checkcmd.
func init() {
	register(command{name: "policy", summary: checkcmd.Summary, run: func(args []string) int {
		return checkcmd.Run(args, os.Stdin, os.Stdout, os.Stderr)
	}})
}
