//go:build linux && cgo && !imaemu && !timens

package nsenter

// The release build reads no environment for the card directory.
const cardDirFromEnv = false
