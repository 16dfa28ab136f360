// Package hooksd holds no code: its tests load the shipped hooks.d templates
// (../../hooks.d/*.json.in) the way podman and CRI-O do, with
// go.podman.io/common/pkg/hooks, after filling the @LIBEXECDIR@ placeholder
// exactly as `make install` does. They pin down what the JSON must promise:
// schema 1.0.0, one stage per file that equals the --stage argument, an
// anchored opt-in on io.imans.enable, an absolute path, an explicit timeout
// and a PATH for podman's empty poststop environment.
package hooksd
