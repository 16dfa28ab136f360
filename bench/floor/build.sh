# shellcheck shell=bash
# Sourced by bench/wrapper.sh and bench/startup.sh: builds the floors of
# bench/floor/ into a directory, like the wrapper binary they are compared
# with. All static; the C ones, and the cgo one, with the C library that
# binary carries (`ima-hook version` says it; the Makefile's LIBC), since
# static glibc's start-up costs about half a millisecond more than musl's
# in a VM and a floor must not be dearer than the same shape built like
# the wrapper. The exec-only Go floor has no C at all, as a pure Go wrapper
# would not.
#
#   ih_build_floors REPO WRAPPER-BINARY OUTDIR
#     -> OUTDIR/exec-floor       exec-only C wrapper
#        OUTDIR/unshare-floor    unshare + fork + wait in C (the ABI's minimum)
#        OUTDIR/goexec-floor     exec-only Go program
#        OUTDIR/govalidate-floor Go-validated, C-first (issue 3's minimum)
#        OUTDIR/gobinding-floor  exec-only Go program linking what the design
#                                requires of any wrapper (SM2 x509, the C stage...)
#        OUTDIR/goimports-floor  exec-only Go program linking ima-hook's packages
#     and sets floor_libc and floor_cc.
#
#   ih_settle_binaries FILE...
#     puts every binary a bench starts into one page-cache state (below).
ih_build_floors() {
	local repo=$1 bin=$2 out=$3 ldmode=()
	floor_libc=$("$bin" version | sed -n 's/.*libc: \([a-z]*\).*/\1/p')
	case $floor_libc in
	musl) floor_cc=${CC:-musl-gcc} ldmode=(-linkmode external) ;;
	glibc) floor_cc=${CC:-gcc} ;;
	*)
		echo "bench: cannot tell the C library of $bin from its version line" >&2
		return 1
		;;
	esac
	command -v "$floor_cc" >/dev/null || {
		echo "bench: needs a C compiler ($floor_cc) for the $floor_libc floors" >&2
		return 1
	}
	"$floor_cc" -O2 -static -o "$out/exec-floor" "$repo/bench/floor/exec.c"
	"$floor_cc" -O2 -static -o "$out/unshare-floor" "$repo/bench/floor/unshare.c"
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$out/goexec-floor" ./bench/floor/goexec)
	# The cgo floors, static like ima-hook (goimports with its tags too).
	cgo_floor() { # NAME TAGS
		(cd "$repo" && CC=$floor_cc CGO_ENABLED=1 go build -trimpath -tags "$2" -ldflags "${ldmode[*]} -extldflags=-static" \
			-o "$out/$1-floor" "./bench/floor/$1") 2> >(grep -v 'statically linked applications requires at runtime' >&2)
	}
	cgo_floor govalidate ''
	cgo_floor gobinding 'netgo osusergo'
	cgo_floor goimports 'netgo osusergo'
}

# The page cache holds a file in folios of different sizes depending on how
# it got there (the linker's writes, cp, a read after eviction), and an exec
# takes fewer faults on larger folios: byte-identical copies of ima-hook
# started up to 0.27 ms apart here, as much as the margins being measured.
# So every binary a bench compares is written out and dropped from the page
# cache (posix_fadvise DONTNEED on that file alone, through dd), and the
# warm-up runs read each back through exec's own faults, as on a node after
# a reboot.
ih_settle_binaries() {
	sync -- "$@"
	local f
	for f in "$@"; do
		dd if="$f" iflag=nocache count=0 status=none
	done
}
