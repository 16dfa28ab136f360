# ima-hook: per-container IMA namespaces for unmodified OCI runtimes.
#
#   make build          bin/ima-hook (release, real kernel) + bin/ima-runtime symlink
#   make build-emu      bin/ima-hook-emu (emulated IMA-namespace kernel, tests only)
#                       + bin/emu/ima-runtime symlink
#   make build-timens   bin/ima-hook-timens (wrapper uses a time namespace; tests only)
#   make install        PREFIX=/usr/local DESTDIR= (see README "Installation")
#   make rpm            bin/rpm/ima-hook-*.rpm from packaging/rpm/ima-hook.spec
#                       (rpmbuild; Debian's rpm package); make test-rpm tests it
#   make test           gofmt, go vet, lint, unit tests (-race), emulator tests,
#                       the docs check, bats suites
#   make docs-check     run the commands README.md and docs/*.md show and compare
#                       the output they show (internal/docscheck)
#   make lint           staticcheck (each build's tags), shellcheck, clang-format
#   make test-unit      only the Go tests;  make test-bats  only the bats suites
#                       and the switch matrix (tests/bats/all.sh; last line
#                       "bats: N passed, N failed[, N skipped]")
#   make test-switches  the switch matrix alone (tests/bats/switch-matrix: one
#                       focused suite per emulated-kernel switch, other setting)
#   make bench          every bench/*.sh;   make demo   scripts/demo.sh
#   make fuzz           every FuzzXxx target for FUZZTIME (default 10s) each
#   make deps           scripts/install-deps.sh (apt packages, Go modules)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# Go lives in /usr/local/go on the build machines; keep a PATH Go first.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# The version stamped into the binary: a VERSION file wins (release
# tarballs have no .git), else git describe, else "unknown".
VERSION ?= $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION)
# Statically linked: every container start runs this binary up to three
# times (wrapper, createRuntime, poststop), and skipping the dynamic loader
# saves about a millisecond each (hyperfine: 5.2 -> 4.0 ms per start). The
# pure-Go resolver and user lookup keep glibc's NSS out of a static binary;
# the C stage only makes system calls.
STATIC_TAGS := netgo osusergo
# The C library linked in: musl when its gcc wrapper is installed (Debian:
# musl-tools), else glibc. Static glibc probes the CPU (init_cpu_features,
# cache geometry through dozens of cpuid instructions) at every exec; in a
# VM each cpuid traps to the hypervisor, which made glibc's start-up cost
# 0.5 ms more than musl's per run here (bench/startup.sh), paid by every
# container start, IMA or not, where ima-runtime is the engine's runtime.
# LIBC=glibc forces glibc; `ima-hook version` says which one a binary has.
MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
LIBC ?= $(if $(MUSL_GCC),musl,glibc)
ifeq ($(LIBC),musl)
ifeq ($(MUSL_GCC),)
$(error LIBC=musl needs musl-gcc (Debian: apt-get install musl-tools))
endif
CGO_CC := CC=$(MUSL_GCC)
# musl-gcc links only through the external linker.
LINKMODE := -linkmode external
else ifeq ($(LIBC),glibc)
CGO_CC :=
LINKMODE :=
else
$(error LIBC must be musl or glibc, not $(LIBC))
endif
LDFLAGS += -X main.libc=$(LIBC)
GOBUILD := $(CGO_CC) CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS) $(LINKMODE) -extldflags=-static'

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
# Where OCI hook binaries and hooks.d files go (containers-common layout).
HOOKBINDIR := $(LIBEXECDIR)/oci/hooks.d
HOOKSDIR ?= $(DATADIR)/containers/oci/hooks.d
CONFDIR := $(SYSCONFDIR)/ima-hook
# HOOK_WHEN=always installs the hooks.d files with "when": {"always": true},
# needed when the admin config says mandatory = true (the hook must then run
# for containers without the io.imans.enable annotation too).
HOOK_WHEN ?= annotation
# The admin config example installed to $(CONFDIR)/ima-hook.toml if absent.
EXAMPLE_CONFIG ?= hooks.d/ima-hook.toml.example

FUZZTIME ?= 10s
GOSRC := $(shell find . \( -name '*.go' -o -name '*.[ch]' \) -not -path './.cache/*' 2>/dev/null) go.mod go.sum

.PHONY: all build build-emu build-timens install install-files uninstall rpm test-rpm \
	test test-unit test-bats \
	test-bats-default test-switches docs-check lint \
	fmt-check vet portable-check bench demo fuzz deps clean

all: build build-emu build-timens

build: bin/ima-hook bin/ima-runtime
build-emu: bin/ima-hook-emu bin/emu/ima-runtime
build-timens: bin/ima-hook-timens bin/timens/ima-runtime

# bin/.libc names the C library the binaries were linked with, rewritten
# only when LIBC changes, so that `make LIBC=glibc` relinks them.
bin/.libc: FORCE
	@mkdir -p $(@D); [ "$$(cat $@ 2>/dev/null)" = '$(LIBC)' ] || echo '$(LIBC)' >$@
.PHONY: FORCE
FORCE:

bin/ima-hook: $(GOSRC) bin/.libc
	$(GOBUILD) -tags '$(STATIC_TAGS)' -o $@ ./cmd/ima-hook
bin/ima-hook-emu: $(GOSRC) bin/.libc
	$(GOBUILD) -tags '$(STATIC_TAGS) imaemu' -o $@ ./cmd/ima-hook
bin/ima-hook-timens: $(GOSRC) bin/.libc
	$(GOBUILD) -tags '$(STATIC_TAGS) timens' -o $@ ./cmd/ima-hook

# The runtime wrapper is the same binary called as "ima-runtime"; the test
# builds get their own directory because only the base name counts.
bin/ima-runtime: bin/ima-hook
	ln -sfn ima-hook $@
bin/emu/ima-runtime: bin/ima-hook-emu
	mkdir -p $(@D) && ln -sfn ../ima-hook-emu $@
bin/timens/ima-runtime: bin/ima-hook-timens
	mkdir -p $(@D) && ln -sfn ../ima-hook-timens $@

# install: binary first, then the hooks.d files (podman and CRI-O skip a
# hooks.d file whose binary is missing), config only if the admin has none.
# install-files is the same without the build (rpmbuild's %install uses it).
# The iSulad hook-spec (docs/openeuler.md) goes to $(ISULADSPEC): iSulad
# takes one hook-spec file for all containers, so it is not put in
# /etc/isulad on its own; the admin points daemon.json at it or merges it.
ISULADSPEC ?= $(DATADIR)/ima-hook/isulad-hook-spec.json
install: build install-files
install-files:
	install -d $(DESTDIR)$(HOOKBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(HOOKSDIR) $(DESTDIR)$(CONFDIR)
	install -m 0755 bin/ima-hook $(DESTDIR)$(HOOKBINDIR)/ima-hook
	ln -sfn $(HOOKBINDIR)/ima-hook $(DESTDIR)$(BINDIR)/ima-runtime
	ln -sfn $(HOOKBINDIR)/ima-hook $(DESTDIR)$(BINDIR)/ima-hook
	for t in hooks.d/*.json.in; do \
		out=$(DESTDIR)$(HOOKSDIR)/$$(basename "$${t%.in}"); \
		sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' "$$t" >"$$out.tmp"; \
		if [ "$(HOOK_WHEN)" = always ]; then \
			jq '.when = {"always": true}' "$$out.tmp" >"$$out.tmp2" && mv "$$out.tmp2" "$$out.tmp"; \
		fi; \
		chmod 0644 "$$out.tmp" && mv "$$out.tmp" "$$out"; \
	done
	install -d $(DESTDIR)$(dir $(ISULADSPEC))
	sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' hooks.d/isulad/hook-spec.json.in >$(DESTDIR)$(ISULADSPEC).tmp
	chmod 0644 $(DESTDIR)$(ISULADSPEC).tmp && mv $(DESTDIR)$(ISULADSPEC).tmp $(DESTDIR)$(ISULADSPEC)
	if [ ! -e $(DESTDIR)$(CONFDIR)/ima-hook.toml ]; then \
		install -m 0644 $(EXAMPLE_CONFIG) $(DESTDIR)$(CONFDIR)/ima-hook.toml; \
	else \
		echo "keeping existing $(DESTDIR)$(CONFDIR)/ima-hook.toml"; \
	fi
	install -d -m 0755 $(DESTDIR)$(CONFDIR)/keys $(DESTDIR)$(CONFDIR)/policies

uninstall:
	rm -f $(DESTDIR)$(HOOKBINDIR)/ima-hook $(DESTDIR)$(BINDIR)/ima-runtime $(DESTDIR)$(BINDIR)/ima-hook
	for t in hooks.d/*.json.in; do rm -f $(DESTDIR)$(HOOKSDIR)/$$(basename "$${t%.in}"); done
	rm -f $(DESTDIR)$(ISULADSPEC)
	@echo "left $(DESTDIR)$(CONFDIR) (admin config, keys, policies) in place"

# rpm: a binary RPM of the release build; packaging/rpm/version.sh turns
# VERSION into an RPM Version and Release (a tag vX.Y.Z gives X.Y.Z-1, an
# untagged commit 0.0.0-0.git<describe>).
RPM_VERSION ?= $(shell packaging/rpm/version.sh '$(VERSION)' | sed -n 1p)
RPM_RELEASE ?= $(shell packaging/rpm/version.sh '$(VERSION)' | sed -n 2p)
RPMTOP := $(CURDIR)/.cache/rpmbuild
rpm: build
	command -v rpmbuild >/dev/null || { echo "make rpm: rpmbuild is missing (apt-get install rpm, or make deps)" >&2; exit 1; }
	rm -rf $(RPMTOP) bin/rpm && mkdir -p $(RPMTOP) bin/rpm
	rpmbuild -bb --quiet --define '_topdir $(RPMTOP)' --define 'srcdir $(CURDIR)' \
		--define 'pkg_version $(RPM_VERSION)' --define 'pkg_release $(RPM_RELEASE)' \
		--define 'build_version $(VERSION)' packaging/rpm/ima-hook.spec
	mv $(RPMTOP)/RPMS/*/ima-hook-*.rpm bin/rpm/
	@ls bin/rpm/*.rpm

test-rpm: build
	tests/bats/run.sh tests/bats/rpm.bats

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt -l lists files that need formatting:"; echo "$$out"; exit 1; fi

# The library packages build without cgo and on other systems: they are
# plain Go another program can import (pkg/ns's C stage and the Linux-only
# calls sit behind tagged files, docs/architecture.md).
PORTABLE_PKGS := ./pkg/policy/... ./pkg/measure/... ./pkg/keys/... ./pkg/preflight/...
portable-check:
	CGO_ENABLED=0 $(GO) build $(PORTABLE_PKGS)
	GOOS=darwin $(GO) build $(PORTABLE_PKGS)
	CGO_ENABLED=0 $(GO) build ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags imaemu ./...
	$(GO) vet -tags timens ./...

# lint: what gofmt and go vet do not see.
# - staticcheck, pinned (go run fetches it once; scripts/install-deps.sh
#   does that ahead), once per tag set: a helper can be dead in one build
#   and live in another, and then belongs in the tagged file that uses it.
#   Its default checks; a finding that is wanted is kept with a
#   //lint:ignore CHECK reason comment at the line.
# - shellcheck (Debian package) on every shell script and bats file; a
#   finding that is wanted is kept with a "# shellcheck disable=SCxxxx #
#   reason" line. For the bats files only, what bats itself makes wrong:
#   each @test runs in a subshell (SC2030, SC2031), run sets status,
#   output and stderr (SC2154), variables set for helpers.bash, which
#   shellcheck cannot follow through load (SC2034, SC2153), sources found
#   through $$BATS_TEST_DIRNAME (SC1091), jq programs in single quotes
#   (SC2016). It also finds a "! cmd" that is not a test's last command,
#   which bats does not count as a failure.
# - clang-format 14 (Debian package) in check mode on the C files, against
#   .clang-format: a five-line kernel-like style that the existing C code
#   already follows (it moved two continuation lines), so the check guards
#   the style without a reformatting diff; GNU indent has no check mode.
# - no file points at the build machines' own notes (the shared directory
#   beside the checkout, its testing notes): users do not have them.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
SHELL_SCRIPTS = $(shell find . \( -path ./.cache -o -path ./.git \) -prune -o -type f \( -name '*.sh' -o -name '*.bash' \) -print | sort) .ci/run
BATS_FILES = $(sort $(wildcard tests/bats/*.bats))
BATS_SHELLCHECK_EXCLUDE = SC2030,SC2031,SC2154,SC2034,SC2153,SC1091,SC2016
C_SOURCES = $(shell find . \( -path ./.cache -o -path ./.git \) -prune -o -type f -name '*.[ch]' -print | sort)

lint:
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags imaemu ./...
	$(STATICCHECK) -tags timens ./...
	shellcheck -x $(SHELL_SCRIPTS)
	shellcheck -x -e $(BATS_SHELLCHECK_EXCLUDE) $(BATS_FILES)
	clang-format --dry-run -Werror $(C_SOURCES)
	@if grep -rnE --exclude-dir=.git --exclude-dir=.cache --exclude-dir=bin '\.\./shar[e]d/|TESTIN[G]\.md' .; then \
		echo "lint: the lines above point at notes outside the repository, which users do not have: cite docs/ instead"; exit 1; fi

# Packages with files behind the imaemu tag (the emulator and whatever
# tests against it) are tested a second time with the tag.
EMU_PKGS = $(shell grep -rlE '^//go:build .*imaemu' --include='*.go' . | grep -v '^./.cache/' | xargs -r -n1 dirname | sort -u)
TIMENS_PKGS = $(shell grep -rlE '^//go:build .*timens' --include='*.go' . | grep -v '^./.cache/' | xargs -r -n1 dirname | sort -u)

test-unit: fmt-check vet portable-check
	$(GO) test -race -count=1 ./...
	$(if $(strip $(EMU_PKGS)),$(GO) test -race -count=1 -tags imaemu $(EMU_PKGS))
	$(if $(strip $(TIMENS_PKGS)),$(GO) test -race -count=1 -tags timens $(TIMENS_PKGS))

# The bats suites run in full on the emulated kernel's default switches,
# then the switch matrix runs a focused suite per switch in its other
# setting (one line each in tests/bats/switch-matrix).
test-bats: build build-emu build-timens
	tests/bats/all.sh

test-bats-default: build build-emu build-timens
	tests/bats/run.sh

test-switches: build build-emu build-timens
	tests/bats/switches.sh

# The commands shown in README.md and docs/*.md, run in private directories
# (never /etc/ima-hook, /run/ima-hook) with the emulated build as ima-hook;
# output shown is compared. The conventions (prompts, "...", skip and setup
# markers) are in docs/testing.md, "Docs check".
docs-check: build build-emu build-timens
	IMA_HOOK_DOCS_CHECK=1 $(GO) test -count=1 -timeout 20m -v -run '^TestDocs$$' ./internal/docscheck

# Go first (fast failures), bats last: all.sh's "bats: N passed, N failed"
# (the default suites and the switch matrix added up) is the final line of
# the output.
test: test-unit lint docs-check test-bats

bench: build build-emu build-timens
	bench/run.sh

demo: build build-emu
	scripts/demo.sh

# Each FuzzXxx for FUZZTIME; targets in imaemu-tagged files get the tag.
fuzz:
	@set -e; found=0; \
	for f in $$(grep -rlE '^func Fuzz[A-Z0-9]' --include='*_test.go' . | grep -v '^./.cache/' | sort); do \
		tags=; grep -qE '^//go:build .*imaemu' "$$f" && tags="-tags imaemu"; \
		for fn in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]+)\(.*/\1/p' "$$f"); do \
			found=$$((found+1)); \
			echo "== $$fn ($$(dirname $$f), $(FUZZTIME))"; \
			$(GO) test $$tags -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "./$$(dirname $${f#./})"; \
		done; \
	done; \
	echo "fuzzed $$found targets for $(FUZZTIME) each"

deps:
	scripts/install-deps.sh

clean:
	rm -rf bin
