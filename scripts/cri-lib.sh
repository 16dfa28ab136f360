# shellcheck shell=bash
# A private containerd with its CRI plugin, for tests/bats/cri-containerd.bats
# and bench/cri.sh: own socket, root, state, runc root and opt dir under one
# directory, nothing of a containerd the machine runs is touched (the CRI
# plugin always uses the containerd namespace k8s.io, but of this daemon).
#
#   . "$repo/scripts/cri-lib.sh"
#   cri_find_crictl                 prints crictl's path (builds it if needed)
#   cri_containerd_start DIR EMU-BIN TIMENS-BIN
#   cri_containerd_stop DIR
#   cri_ctl DIR ARGS...             crictl against DIR's containerd
#
# Runtime handlers: runc (plain), ima (EMU-BIN's wrapper with
# --inject-hooks: containerd reads no hooks.d) and ima-timens (TIMENS-BIN's
# wrapper: time namespaces stand in for IMA ones on kernels without them).
# Both pass io.imans.* pod and container annotations. The images
# docker.io/library/ih-app:1 (sleep 3600) and ih-pause:1 (the sandbox image,
# sleep inf) are built from busybox-static and imported: no registry, no
# network; pods must use the host network (no CNI is configured). The
# admin config is DIR/ima-hook.toml, with keys, policies, records and
# archives under DIR; IMA_HOOK_EMU_DIR is DIR/emu.

CRI_CRICTL_VERSION=v1.37.0

cri_repo_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

# cri_find_crictl: $IMA_HOOK_CRICTL, a crictl in PATH, or the one
# scripts/install-deps.sh builds into .cache/bin (built here, once, under a
# lock, when Go is there and it is not).
cri_find_crictl() {
	local c=${IMA_HOOK_CRICTL:-} cache
	cache=$(cri_repo_root)/.cache/bin
	[[ -n $c ]] || c=$(command -v crictl || true)
	[[ -n $c ]] || c=$cache/crictl
	if [[ ! -x $c ]]; then
		local go
		go=$(command -v go || echo /usr/local/go/bin/go)
		[[ -x $go ]] || return 1
		mkdir -p "$cache"
		(
			flock 9
			[[ -x $c ]] || GOBIN=$cache GOFLAGS=-buildvcs=false "$go" install "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_CRICTL_VERSION" >&2
		) 9>"$cache/.crictl.lock" || return 1
	fi
	echo "$c"
}

cri_ctl() {
	local d=$1
	shift
	"${CRICTL:?}" --config /dev/null --runtime-endpoint "unix://$d/ctd.sock" --image-endpoint "unix://$d/ctd.sock" --timeout 60s "$@"
}

cri_containerd_start() {
	local d=$1 emu=$2 timens=$3 r a runc
	runc=$(command -v runc || echo /usr/sbin/runc)
	mkdir -p "$d/keys" "$d/policies" "$d/emu"
	r=$d/rootfs
	mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,run,root,var}
	chmod 1777 "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$r/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	local img
	img=$(cri_repo_root)/tests/bats/oci-image.sh
	"$img" "$d/app.tar" docker.io/library/ih-app:1 "$r" /bin/sleep 3600
	"$img" "$d/pause.tar" docker.io/library/ih-pause:1 "$r" /bin/sleep inf
	cat >"$d/ima-hook.toml" <<-TOML
		# admin config of a private CRI containerd
		keys_dir = "$d/keys"
		policies_dir = "$d/policies"
		run_dir = "$d/run"
		archive_dir = "$d/archive"
		runtime = "$runc"
		log = "auto"
	TOML
	# What docs/runtime-wrapper.md calls ima-runtime-inject.
	printf '#!/bin/sh\nexec %s runtime --inject-hooks --config %s -- "$@"\n' "$emu" "$d/ima-hook.toml" >"$d/ima-runtime-inject"
	printf '#!/bin/sh\nexec %s runtime --config %s -- "$@"\n' "$timens" "$d/ima-hook.toml" >"$d/ima-runtime-timens"
	chmod +x "$d/ima-runtime-inject" "$d/ima-runtime-timens"
	# restrict_oom_score_adj: the CRI gives the sandbox oom_score_adj -998,
	# which a machine (or container) without CAP_SYS_RESOURCE over it does
	# not allow; the CRI then keeps containerd's own. The shim inherits
	# containerd's environment, and so do the wrapper and (through
	# --inject-hooks) the hook: IMA_HOOK_EMU_DIR reaches them all from here.
	local h handlers=""
	for h in ima:ima-runtime-inject ima-timens:ima-runtime-timens; do
		handlers+="
  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.${h%%:*}]
    runtime_type = \"io.containerd.runc.v2\"
    pod_annotations = [\"io.imans.*\"]
    container_annotations = [\"io.imans.*\"]
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.${h%%:*}.options]
      BinaryName = \"$d/${h#*:}\"
      Root = \"$d/runc\""
	done
	cat >"$d/config.toml" <<-TOML
		version = 2
		root = "$d/root"
		state = "$d/state"
		[grpc]
		  address = "$d/ctd.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$d/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "docker.io/library/ih-pause:1"
		  disable_apparmor = true
		  restrict_oom_score_adj = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "$d/cni/bin"
		    conf_dir = "$d/cni/conf"
		  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		    runtime_type = "io.containerd.runc.v2"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		      Root = "$d/runc"
	TOML
	echo "$handlers" >>"$d/config.toml"
	IMA_HOOK_EMU_DIR=$d/emu containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- </dev/null &
	echo $! >"$d/pid"
	local up=
	for _ in $(seq 100); do
		if ctr --address "$d/ctd.sock" version >/dev/null 2>&1; then up=1; break; fi
		sleep 0.1
	done
	[[ -n $up ]] || { echo "containerd did not come up: $(tail -n 5 "$d/containerd.log")" >&2; return 1; }
	ctr --address "$d/ctd.sock" -n k8s.io images import "$d/app.tar" >/dev/null &&
		ctr --address "$d/ctd.sock" -n k8s.io images import "$d/pause.tar" >/dev/null
}

# cri_containerd_stop DIR: removes every pod, stops containerd, unmounts
# what a failure left mounted, removes DIR and the pods' parent cgroups
# (cgroup_parent /ih-cri-* by convention of the callers).
cri_containerd_stop() {
	local d=$1 p pid
	[[ -s $d/pid ]] || { rm -rf "$d"; return 0; }
	pid=$(cat "$d/pid")
	for p in $(cri_ctl "$d" pods -q 2>/dev/null); do
		cri_ctl "$d" stopp "$p" >/dev/null 2>&1 || true
		cri_ctl "$d" rmp -f "$p" >/dev/null 2>&1 || true
	done
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	awk -v d="$d/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
	rm -rf "$d"
}
