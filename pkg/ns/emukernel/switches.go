//go:build imaemu

package emukernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// SwitchesFile is the file in the state directory that chooses the kernel
// a test runs against: JSON fields of Switches over DefaultSwitches. It is
// read once, when the state is created (the first process of a test that
// opens the emulator); a kernel does not change its configuration while it
// runs, and neither does the emulator.
const SwitchesFile = "switches.json"

// maxSwitchesFile bounds the read: the file is a handful of fields.
const maxSwitchesFile = 64 << 10

// LoadSwitches returns the switches dir/switches.json asks for: its fields
// over DefaultSwitches, DefaultSwitches when there is no such file. A field
// Switches does not have is an error, so a misspelt switch cannot leave a
// test silently running on the default kernel.
func LoadSwitches(dir string) (Switches, error) {
	sw := DefaultSwitches()
	path := filepath.Join(dir, SwitchesFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return sw, nil
	}
	if err != nil {
		return sw, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSwitchesFile+1))
	if err != nil {
		return sw, err
	}
	if len(b) > maxSwitchesFile {
		return sw, fmt.Errorf("%s: larger than %d bytes", path, maxSwitchesFile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sw); err != nil {
		return DefaultSwitches(), fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return DefaultSwitches(), fmt.Errorf("%s: more than one JSON object", path)
	}
	if err := sw.validate(); err != nil {
		return DefaultSwitches(), fmt.Errorf("%s: %w", path, err)
	}
	return sw, nil
}

func (sw Switches) validate() error {
	if sw.MaxNamespaces < 0 {
		return fmt.Errorf("max_namespaces %d is negative", sw.MaxNamespaces)
	}
	if sw.LoadX509 && !sw.TrustedKeyringRequiresCA {
		// Kconfig: IMA_LOAD_X509 depends on IMA_TRUSTED_KEYRING, so no
		// kernel loads the namespace's certificate into an unrestricted
		// keyring; a test on such a kernel would pass where none can.
		return fmt.Errorf("load_x509 without trusted_keyring_requires_ca describes no kernel (CONFIG_IMA_LOAD_X509 depends on CONFIG_IMA_TRUSTED_KEYRING): set trusted_keyring_requires_ca or turn load_x509 off")
	}
	switch sw.NSTemplate {
	case "", NSTemplateKcmd, NSTemplateHost:
	default:
		return fmt.Errorf("ns_template %q is neither %q nor %q", sw.NSTemplate, NSTemplateKcmd, NSTemplateHost)
	}
	return nil
}

// OpenConfigured returns the emulator whose state is in dir, creating it
// with the switches of dir/switches.json (LoadSwitches) the first time.
func OpenConfigured(dir string) (*Kernel, error) {
	if st, err := os.Stat(filepath.Join(dir, "state.json")); err == nil && st.Size() > 0 {
		return &Kernel{dir: dir}, nil
	}
	sw, err := LoadSwitches(dir)
	if err != nil {
		return nil, err
	}
	return Open(dir, sw)
}

// CurrentSwitches returns the switches of the emulator in dir without
// creating its state: the state's own once it exists, else the ones it
// will be created with. The state is read under a shared lock (writers
// rewrite it in place under the exclusive one).
func CurrentSwitches(dir string) (Switches, error) {
	sw, _, err := currentSwitches(dir)
	return sw, err
}

// currentSwitches also says whether they come from an existing state.
func currentSwitches(dir string) (Switches, bool, error) {
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		sw, err := LoadSwitches(dir) // no state directory yet
		return sw, false, err
	}
	if err != nil {
		return Switches{}, false, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_SH); err != nil {
		return Switches{}, false, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
		sw, err := LoadSwitches(dir)
		return sw, false, err
	}
	if err != nil {
		return Switches{}, false, err
	}
	var s struct {
		Switches Switches `json:"switches"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return Switches{}, false, fmt.Errorf("emulator state %s: %w", dir, err)
	}
	return s.Switches, true, nil
}

// Switches returns the switches this emulator was created with.
func (k *Kernel) Switches() (Switches, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sw != nil {
		return *k.sw, nil
	}
	sw, fromState, err := currentSwitches(k.dir)
	if err == nil && fromState {
		k.sw = &sw
	}
	return sw, err
}

// KernelConfigFile is the emulated kernel's build config in its state
// directory (what /proc/config.gz is on a real one), when
// KernelConfigReadable.
const KernelConfigFile = "kernel-config"

// KernelConfig returns the config text a kernel with these switches was
// built from (the options ima-hook looks at).
func (sw Switches) KernelConfig() string {
	opt := func(name string, on bool) string {
		if on {
			return name + "=y\n"
		}
		return "# " + name + " is not set\n"
	}
	return "# emulated openEuler kernel (ima-hook emukernel switches)\n" +
		"CONFIG_IMA=y\n" +
		opt("CONFIG_IMA_NS", true) +
		opt("CONFIG_IMA_APPRAISE_BOOTPARAM", sw.AppraiseBootParam) +
		opt("CONFIG_IMA_TRUSTED_KEYRING", sw.TrustedKeyringRequiresCA) +
		opt("CONFIG_IMA_LOAD_X509", sw.LoadX509) +
		opt("CONFIG_IMA_WRITE_POLICY", sw.WritePolicy) +
		opt("CONFIG_IMA_READ_POLICY", sw.ReadPolicy)
}

func writeKernelConfig(path string, sw Switches) error {
	want := sw.KernelConfig()
	if b, err := os.ReadFile(path); err == nil && string(b) == want {
		return nil
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(want), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// KernelConfigPath is where this emulated kernel exposes its config ("" when
// its switches say it does not).
func (k *Kernel) KernelConfigPath() string {
	sw, err := k.Switches()
	if err != nil || !sw.KernelConfigReadable {
		return ""
	}
	return filepath.Join(k.dir, KernelConfigFile)
}
