package main

import (
	"os"

	"github.com/ima-hook/ima-hook/cmd/ima-hook/policycmd"
)

// `ima-hook policy check`: the command itself is pkg/policy/policycmd.
func init() {
	register(command{name: "policy", summary: policycmd.Summary, run: func(args []string) int {
		return policycmd.Run(args, os.Stdin, os.Stdout, os.Stderr)
	}})
}
