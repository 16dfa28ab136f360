#!/bin/sh
# Runs in the ima-hook DaemonSet's init container (daemonset.yaml): installs
# the payload of the image (make install's tree under /payload) onto the
# node mounted at $HOST, the admin config, policies and keys from the
# mounted ConfigMaps and Secret, then registers the runtime handler with
# the node's engine (ima-hook configure) and restarts the engine when that
# changed anything and RESTART_ENGINE=true.
set -eu

: "${HOST:=/host}" "${PREFIX:=/usr/local}" "${ENGINE:=containerd}" "${RESTART_ENGINE:=false}"
: "${IMA_HOOK_CONFIG_DIR:=/etc/ima-hook}"
: "${IMA_HOOK_KEYS_DIR:=$IMA_HOOK_CONFIG_DIR/keys}" "${IMA_HOOK_POLICIES_DIR:=$IMA_HOOK_CONFIG_DIR/policies}"
payload=${PAYLOAD:-/payload}

# install SRC DST MODE: copy through a temporary file and a rename, so that
# a container starting meanwhile never runs half a binary.
install_file() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.tmp.$$"
	chmod "$3" "$2.tmp.$$"
	mv -f "$2.tmp.$$" "$2"
}

# The binary first: the hooks.d files name it.
install_file "$payload$PREFIX/libexec/oci/hooks.d/ima-hook" "$HOST$PREFIX/libexec/oci/hooks.d/ima-hook" 0755
mkdir -p "$HOST$PREFIX/bin"
ln -sfn "$PREFIX/libexec/oci/hooks.d/ima-hook" "$HOST$PREFIX/bin/ima-runtime"
ln -sfn "$PREFIX/libexec/oci/hooks.d/ima-hook" "$HOST$PREFIX/bin/ima-hook"
for f in "$payload$PREFIX"/share/containers/oci/hooks.d/*.json; do
	install_file "$f" "$HOST$PREFIX/share/containers/oci/hooks.d/$(basename "$f")" 0644
done

install_file /config/admin/ima-hook.toml "$HOST$IMA_HOOK_CONFIG_DIR/ima-hook.toml" 0644
mkdir -p "$HOST$IMA_HOOK_POLICIES_DIR" "$HOST$IMA_HOOK_KEYS_DIR"
for f in /config/policies/*; do
	[ -f "$f" ] && install_file "$f" "$HOST$IMA_HOOK_POLICIES_DIR/$(basename "$f")" 0644
done
if [ -d /config/keys ]; then
	for f in /config/keys/*; do
		[ -f "$f" ] && install_file "$f" "$HOST$IMA_HOOK_KEYS_DIR/$(basename "$f")" 0644
	done
fi

out=$("$HOST$PREFIX/libexec/oci/hooks.d/ima-hook" configure --engine "$ENGINE" --root "$HOST" --prefix "$PREFIX")
echo "$out"
case $out in
*"nothing to do"*) exit 0 ;;
esac
if [ "$RESTART_ENGINE" = true ]; then
	case $ENGINE in
	containerd) unit=containerd ;;
	cri-o) unit=crio ;;
	*) echo "node-install.sh: restart $ENGINE by hand" >&2; exit 0 ;;
	esac
	nsenter -t 1 -m -u -i -n -p -- systemctl restart "$unit"
	echo "restarted $unit"
fi
