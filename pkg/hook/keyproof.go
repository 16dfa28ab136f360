package hook

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// ownKey makes the key listed after creation this namespace's beyond
// doubt. All namespaces' keys live in the one .ima keyring, each tagged
// with its namespace's key domain; whether a task inside a namespace is
// shown only its own when it lists the keyring is not settled
// (docs/kernel-abi.md, switch keyring_shared), so a key with the right id
// may be another container's that was given the same certificate, while
// the kernel dropped this one's. add_key from inside the namespace tags
// the key with this namespace's domain (KEY_ALLOC_DOMAIN_IMA) and replaces
// the kernel's copy if it loaded one (same description and domain, so
// nothing is doubled): its success is the proof, and it holds under
// either kind of listing.
func (h *Hook) ownKey(pid int, ctrNS imansid.ID, cfg *config.Config) error {
	want := cfg.Cert.KeyID
	res, err := h.Kernel.Populate(pid, ns.PopulateRequest{KeyDER: cfg.Cert.DER, Keyring: cfg.Keyring, Expect: ctrNS, ListKeys: true})
	problem := fmt.Sprintf("a key with the id of %s (%08x) is in the keyring, but it may be another namespace's (the keyring can list every namespace's keys), and adding it to this namespace", cfg.X509Path, want)
	if err != nil {
		var ue *userror.Error
		if errors.As(err, &ue) {
			// Keep what the add said (e.g. a trusted keyring's ENOKEY and
			// its fix) under this container's subject.
			return userror.Wrap(err, config.AnnX509, problem+" failed: "+ue.Subject+": "+ue.Problem, ue.Fix)
		}
		return userror.Wrap(err, config.AnnX509, problem+" failed: "+err.Error(),
			"check the kernel log (dmesg) and the keyring (keyctl show %keyring:.ima)")
	}
	if res.KeySerial == 0 || !slices.Contains(res.KeyIDs, want) {
		return userror.New(config.AnnX509, problem+" left no such key",
			"check the kernel log (dmesg) and the keyring (keyctl show %keyring:.ima)")
	}
	return nil
}
