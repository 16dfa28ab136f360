package preflight

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuleIDs says in which user namespace the policy's uid=, fowner= ...
// values were written, i.e. through which id map ima_parse_rule's
// make_kuid(current_user_ns(), ...) turned them into kernel ids.
type RuleIDs string

const (
	// RuleIDsHost: the policy was written from the initial user namespace,
	// as ima-hook's createRuntime hook does (it enters only the IMA
	// namespace): values are host ids.
	RuleIDsHost RuleIDs = "host"
	// RuleIDsContainer: the policy was written from inside the container's
	// user namespace: values are container ids, mapped through
	// linux.uidMappings/gidMappings.
	RuleIDsContainer RuleIDs = "container"
)

// identity is who the container's process is, in kernel ids, and how the
// container's user namespace maps ids.
type identity struct {
	userns         bool    // the container has its own user namespace
	uidMap, gidMap []IDMap // container id -> host id (nil: identity)
	mapsKnown      bool    // false: joins an existing user namespace
	proc           creds   // process.user at exec time
	nnp            bool    // process.noNewPrivileges: set-id bits ignored
	notes          []string
}

func toIDMaps(m []specs.LinuxIDMapping) []IDMap {
	var out []IDMap
	for _, e := range m {
		out = append(out, IDMap{Inside: e.ContainerID, Outside: e.HostID, Count: e.Size})
	}
	return out
}

// identityFromSpec reads process.user, the user namespace and its id
// mappings and the capabilities from config.json. A nil spec leaves the
// process unknown: every uid=/euid=/gid=/egid= condition stays undecided.
func identityFromSpec(spec *specs.Spec) identity {
	id := identity{mapsKnown: true}
	if spec == nil || spec.Process == nil {
		id.proc = creds{unknownCredsNote: "no config.json: the process's user is unknown"}
		return id
	}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UserNamespace {
				id.userns = true
				if ns.Path != "" {
					id.mapsKnown = false
					id.notes = append(id.notes, "the container joins the existing user namespace "+ns.Path+", whose id map is not in config.json: process ids are undecided")
				}
			}
		}
		if id.userns && id.mapsKnown {
			id.uidMap, id.gidMap = toIDMaps(spec.Linux.UIDMappings), toIDMaps(spec.Linux.GIDMappings)
			if len(id.uidMap) == 0 {
				id.mapsKnown = false
				id.notes = append(id.notes, "the container has a user namespace without uidMappings in config.json: process ids are undecided")
			}
		}
	}
	p := spec.Process
	id.nnp = p.NoNewPrivileges
	if !id.mapsKnown {
		id.proc = creds{unknownCredsNote: "user namespace id map unknown"}
		return id
	}
	uid, uok := mapID(id.uidMap, p.User.UID)
	gid, gok := mapID(id.gidMap, p.User.GID)
	if !uok || !gok {
		id.proc = creds{unknownCredsNote: fmt.Sprintf("process.user %d:%d is not mapped by the container's user namespace", p.User.UID, p.User.GID)}
		id.notes = append(id.notes, id.proc.unknownCredsNote+" (the runtime would fail to start it)")
		return id
	}
	id.proc = creds{known: true, uid: uid, euid: uid, suid: uid, gid: gid, egid: gid, sgid: gid,
		desc: fmt.Sprintf("process.user %d:%d", p.User.UID, p.User.GID)}
	// has_capability_noaudit(current, CAP_SETUID) asks about the initial
	// user namespace: a container with its own user namespace never has it.
	id.proc.capSetuid, id.proc.capSetgid = no, no
	if !id.userns && p.Capabilities != nil {
		if slices.Contains(p.Capabilities.Effective, "CAP_SETUID") {
			id.proc.capSetuid = yes
		}
		if slices.Contains(p.Capabilities.Effective, "CAP_SETGID") {
			id.proc.capSetgid = yes
		}
	}
	return id
}

// afterExec are the credentials after executing a file with this mode and
// owner (bprm_fill_uid): set-user-ID and set-group-ID bits change the
// effective and saved ids unless no_new_privs is set or the owner is not
// mapped in the container's user namespace.
func (id *identity) afterExec(mode uint32, owner, group uint32) creds {
	c := id.proc
	if !c.known || id.nnp {
		return c
	}
	if mode&0o4000 != 0 {
		if _, ok := unmapID(id.uidMap, owner); ok {
			c.euid, c.suid = owner, owner
		}
	}
	// S_ISGID without group execute is mandatory locking, not set-group-ID.
	if mode&0o2000 != 0 && mode&0o010 != 0 {
		if _, ok := unmapID(id.gidMap, group); ok {
			c.egid, c.sgid = group, group
		}
	}
	return c
}

// ruleMaps returns the maps through which the policy's ids become kernel ids.
func (id *identity) ruleMaps(r RuleIDs) (uidMap, gidMap []IDMap) {
	if r == RuleIDsContainer && id.userns {
		return id.uidMap, id.gidMap
	}
	return nil, nil
}
