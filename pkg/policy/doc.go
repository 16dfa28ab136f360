// Package policy is the IMA policy language as the kernel's ima_parse_rule
// and ima_validate_rule accept it, plus the kcmd_for_children grammar of the
// openEuler IMA-namespace ABI and the kernel's built-in policies.
//
// The kernel answers a bad policy rule with a bare EINVAL and writes the
// reason only to the audit log, which a container user never sees. This
// package predicts the kernel's verdict for every rule before anything is
// written, and says which token is at fault and why.
//
// What a kernel accepts depends on its build (CONFIG_IMA_APPRAISE_MODSIG,
// CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS, the hash algorithms it has, its
// version), on its active LSMs (labels in subj_*/obj_* conditions) and on
// whether the rules go into a non-initial IMA namespace. All of that is a
// Profile: ProfileFromSystem reads it from the running kernel,
// ProfileFromConfig from a kernel config file, DefaultProfile describes an
// openEuler CONFIG_IMA_NS kernel.
//
// The verdicts are checked against a real kernel (Debian's 6.1, booted under
// qemu) rule by rule: see testdata/oracle and docs/policy.md.
//
// Where the validator is deliberately stricter than the kernel (a rule the
// kernel would take but that cannot do what it says, such as a value with a
// carriage return, or a rule longer than one kernel write), the error says
// so; the kernel is never more strict than the validator for the features
// the Profile describes.
package policy
