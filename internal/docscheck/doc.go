// Package docscheck runs the commands shown in the project's Markdown
// documentation and compares the output they print with the output the
// documentation shows, so that a doc that no longer matches the code fails
// `make docs-check` (run by `make test`) instead of costing a reader an hour.
//
// The conventions a doc follows (docs/testing.md, "Docs check", says the
// same for writers):
//
//   - A console block is a fenced block tagged "console", or an untagged
//     fenced or indented block whose first line starts with a prompt, "$ "
//     or "# ". Each prompt line is a command (a line ending in a backslash
//     continues it); the lines up to the next prompt are its expected
//     output, compared line by line after trailing spaces are dropped. A
//     command shown without output is run and must succeed, its output is
//     not compared. Every command must exit 0 unless the doc shows its
//     status: `...; echo "exit status $?"`, or a next command that prints
//     $? (`$ echo $?`).
//   - "..." in an expected line matches any text within that line; a line
//     that is only "..." matches any number of lines (also none).
//   - A fenced block tagged sh, bash or shell is a script: it runs as one
//     command and must succeed; its output is not compared.
//   - Every other block (toml, json, go, text, untagged blocks without a
//     prompt) is not run. An untagged block whose first word is a program
//     (found on PATH, or a path such as ./scripts/x or bin/x) is an error:
//     a command must be shown with a prompt (or tagged "text" when it is
//     a synopsis rather than a command).
//   - An HTML comment right before a block steers it:
//     <!-- docs-check: skip (REASON) --> does not run it (the reason is
//     required and reported), <!-- docs-check: setup COMMANDS --> runs
//     COMMANDS (hidden from the reader, one or more lines) before it.
//
// Besides, every relative link must lead to a file of the repository and
// every #anchor to a heading of its file.
//
// The blocks of one file run in order in one bash session (variables, the
// working directory and $? carry over from one command to the next),
// started in the repository root with a private temporary directory
// ($DOCS_CHECK_TMP, also $TMPDIR, so mktemp stays inside it), a private
// IMA_HOOK_EMU_DIR, and ima-hook and ima-runtime on PATH meaning the
// emulated build (bin/ima-hook-emu). Each file gets a fresh session.
package docscheck
