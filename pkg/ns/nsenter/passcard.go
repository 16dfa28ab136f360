//go:build linux && cgo

package nsenter

/*
#include "nsenter.h"
#include "passthrough.h"
static const char *ih_pass_card_dir_default(void) { return IH_PASS_CARD_DIR; }
static const char *ih_pass_card_dir_env(void) { return IH_PASS_CARD_DIR_ENV; }
static const char *ih_pass_card_magic(void) { return IH_PASS_CARD_MAGIC; }
static int ih_pass_card_max(void) { return IH_PASS_CARD_MAX; }
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ima-hook/ima-hook/pkg/record"
)

// CardDir is the directory of the cards. Test builds (imaemu, timens) take
// IMA_HOOK_PASS_CARD_DIR from the environment when it is absolute, so that
// suites keep their cards to themselves; the release build never does.
func CardDir() string {
	if cardDirFromEnv {
		if d := os.Getenv(C.GoString(C.ih_pass_card_dir_env())); filepath.IsAbs(d) {
			return d
		}
	}
	return C.GoString(C.ih_pass_card_dir_default())
}

// CardStale reports whether the C pre-filter read this process's admin
// config card and found it missing or stale (not this binary's, or not for
// the bytes the config holds): the call was one it would have passed
// through with a valid card, so the Go wrapper rewrites it. A call the
// pre-filter declined before reading the card (a container that asks for
// IMA, exec, delete) leaves the card alone.
func CardStale() bool { return C.nsenter_pass_card_state() == C.IH_PASS_CARD_STALE }

func (c Card) encode(exe *syscall.Stat_t) ([]byte, error) {
	for _, v := range []string{c.ConfigPath, c.Runtime, c.Path, c.RunDir} {
		if strings.ContainsAny(v, "\n\x00") {
			return nil, errors.New("nsenter: a card value holds a newline or NUL")
		}
	}
	if !filepath.IsAbs(c.ConfigPath) || !filepath.IsAbs(c.RunDir) || (c.Runtime != "" && !filepath.IsAbs(c.Runtime)) {
		return nil, errors.New("nsenter: a card names only absolute paths")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n", C.GoString(C.ih_pass_card_magic()))
	fmt.Fprintf(&b, "exe %d %d %d %d %d\n", exe.Dev, exe.Ino, exe.Size, exe.Mtim.Sec, exe.Mtim.Nsec)
	if c.ConfigAbsent {
		b.WriteString("config absent\n")
	} else {
		fmt.Fprintf(&b, "config %d %016x\n", c.ConfigSize, c.ConfigFNV)
	}
	rt := c.Runtime
	if rt == "" {
		rt = "-"
	}
	fmt.Fprintf(&b, "runtime %s\n", rt)
	if c.LookedUp && c.Runtime != "" {
		fmt.Fprintf(&b, "path =%s\n", c.Path)
	} else {
		b.WriteString("path -\n")
	}
	fmt.Fprintf(&b, "run_dir %s\n", c.RunDir)
	if b.Len() >= int(C.ih_pass_card_max()) {
		return nil, errors.New("nsenter: the card would be too long for the pre-filter")
	}
	return b.Bytes(), nil
}

// WriteCard makes dir hold c's card, as this binary would write it now
// (dir created 0700 if missing; nothing written when the card is already
// there). Cards are root's: as any other user it does nothing.
func WriteCard(dir string, c Card) error {
	if os.Geteuid() != 0 {
		return nil
	}
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		return fmt.Errorf("nsenter: card: %w", err)
	}
	want, err := c.encode(&exe)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("nsenter: card directory: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return fmt.Errorf("nsenter: card directory: %w", err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR || st.Uid != 0 || st.Mode&0o022 != 0 {
		// The pre-filter would ignore it; say so rather than write there.
		return fmt.Errorf("nsenter: card directory %s must be a directory of root's that no one else may write", dir)
	}
	path := filepath.Join(dir, CardName(c.ConfigPath))
	if have, err := record.ReadBounded(path, int64(C.ih_pass_card_max())); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := record.WriteFileAtomic(path, want); err != nil {
		return fmt.Errorf("nsenter: card: %w", err)
	}
	return nil
}

// RemoveCard removes configPath's card from dir, if any: the config no
// longer allows passing a container through unseen (mandatory = true).
func RemoveCard(dir, configPath string) error {
	err := os.Remove(filepath.Join(dir, CardName(configPath)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("nsenter: card: %w", err)
	}
	return nil
}
