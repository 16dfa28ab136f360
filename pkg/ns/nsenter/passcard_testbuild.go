//go:build linux && cgo && (imaemu || timens)

package nsenter

// #cgo CFLAGS: -DIH_PASS_TEST_BUILD
import "C"

// Test builds let IMA_HOOK_PASS_CARD_DIR move the card directory (the C
// pre-filter too, through IH_PASS_TEST_BUILD), so that suites keep their
// cards to themselves.
const cardDirFromEnv = true
