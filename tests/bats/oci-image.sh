#!/usr/bin/env bash
# oci-image.sh OUT.tar NAME ROOTFS [ENTRYPOINT-ARG...]
#
# Writes an OCI image layout archive (oci-layout, index.json, blobs/) of one
# uncompressed layer holding ROOTFS, with ENTRYPOINT as the image's
# entrypoint, that `ctr -n k8s.io images import OUT.tar` imports as NAME
# (e.g. docker.io/library/ih-app:1). The CRI suites build their app and
# pause images this way from the host's busybox-static: no registry, no
# network. Layer order and times are fixed, so the same rootfs gives the
# same digests.
set -euo pipefail

(($# >= 3)) || { echo "usage: $0 OUT.tar NAME ROOTFS [ENTRYPOINT-ARG...]" >&2; exit 2; }
out=$1 name=$2 rootfs=$3
shift 3

work=$(mktemp -d "${TMPDIR:-/tmp}/oci-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

# blob FILE MEDIATYPE: moves FILE into blobs/ under its digest and prints
# the OCI descriptor.
blob() {
	local d size
	d=$(sha256sum "$1" | cut -d' ' -f1)
	size=$(stat -c %s "$1")
	mv "$1" "$work/blobs/sha256/$d"
	jq -cn --arg mt "$2" --arg d "sha256:$d" --argjson s "$size" '{mediaType: $mt, digest: $d, size: $s}'
}

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer=$(blob "$work/layer.tar" application/vnd.oci.image.layer.v1.tar)

jq -cn --arg diff "$diff_id" --args '{
	architecture: "amd64", os: "linux",
	config: {Entrypoint: $ARGS.positional, Env: ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"], WorkingDir: "/"},
	rootfs: {type: "layers", diff_ids: [$diff]}
}' "$@" >"$work/config.json"
config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)

jq -cn --argjson c "$config" --argjson l "$layer" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' >"$work/manifest.json"
manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)

# containerd names the image after io.containerd.image.name; other tools
# read the tag from org.opencontainers.image.ref.name.
jq -cn --argjson m "$manifest" --arg name "$name" '{schemaVersion: 2, manifests: [$m + {
	platform: {architecture: "amd64", os: "linux"},
	annotations: {"io.containerd.image.name": $name, "org.opencontainers.image.ref.name": ($name | sub(".*:"; ""))}
}]}' >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
