#!/usr/bin/env bash
# `make package`: Debian packages `rackswarm` (reconcile, its unit, man pages, completions, default settings,
# Prometheus rules and Grafana dashboard) and `rackswarm-agent` (provision-agent and its unit) with dpkg-deb, and
# an RPM of the agent with rpmbuild, into OUTDIR (default dist/).
#
#   scripts/package.sh [OUTDIR]
#   CONFIGURATION=release|debug (default release)   BIN=DIR (package binaries already built there; no build)
#
# Man pages come from argument-parser's generate-manual (built from the argument-parser checkout), completions
# from `reconcile --generate-completion-script`: both from the same parser the commands run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist}
configuration=${CONFIGURATION:-release}
swift=${SWIFT:-swift}
# COMPRESSION=fast: gzip -1 payloads (tests package 130 MB debug binaries); default xz, as Debian ships.
compression=${COMPRESSION:-xz}
export RACKSWARM_COMMIT=${RACKSWARM_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}

# A release package is linked as `make release` links (the Makefile's RELEASE_FLAGS): the Swift runtime and
# Foundation statically, because the machine it is installed on has Debian's libraries, not a Swift toolchain; by lld
# with packed relative relocations, hence `libc6 (>= 2.36)` below. A debug build (tests) needs the toolchain's runtime.
flags=()
[ "$configuration" = release ] && flags=(--static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z
                                         -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic)
if [ -z "${BIN:-}" ]; then
    (cd "$root" && "$swift" build -c "$configuration" "${flags[@]}" --product reconcile \
        && "$swift" build -c "$configuration" "${flags[@]}" --product provision-agent \
        && "$swift" build -c "$configuration" --product generate-manual)
    BIN=$(cd "$root" && "$swift" build -c "$configuration" "${flags[@]}" --show-bin-path)
fi
for tool in reconcile provision-agent generate-manual; do
    [ -x "$BIN/$tool" ] || { echo "package: $BIN/$tool is not built (swift build --product $tool)" >&2; exit 1; }
done
version=$("$BIN/reconcile" --version | awk '{print $2}')
commit=$("$BIN/reconcile" --version | sed -n 's/.*(commit \(.*\))/\1/p')
arch=$(dpkg --print-architecture)
work=$(mktemp -d "${TMPDIR:-/tmp}/rs-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# Man pages (one per command) and completions, both generated from the argument parser.
manuals() { # BINARY STAGE
    local name; name=$(basename "$1")
    mkdir -p "$2/usr/share/man/man1" "$work/man-$name"
    "$BIN/generate-manual" "$1" --multi-page --output-directory "$work/man-$name" \
        --authors "the rackswarm authors" --date "$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)" \
        >/dev/null
    find "$work/man-$name" -name '*.1' -exec gzip -9n {} \;
    # git's convention, which the units' Documentation= lines use: reconcile.apply.1 is `man reconcile-apply`.
    local page
    for page in "$work/man-$name"/*.1.gz; do
        page=${page##*/}
        cp "$work/man-$name/$page" "$2/usr/share/man/man1/$(echo "${page%.1.gz}" | tr . -).1.gz"
    done
    mkdir -p "$2/usr/share/bash-completion/completions" "$2/usr/share/zsh/vendor-completions" \
        "$2/usr/share/fish/vendor_completions.d"
    "$1" --generate-completion-script bash > "$2/usr/share/bash-completion/completions/$name"
    "$1" --generate-completion-script zsh > "$2/usr/share/zsh/vendor-completions/_$name"
    "$1" --generate-completion-script fish > "$2/usr/share/fish/vendor_completions.d/$name.fish"
}

# A packaged binary goes without its DWARF, as Debian's dh_strip does (the symbol table stays, so a crash's
# backtrace still names functions): the release reconcile falls from 210 MB to 128 MB, and xz's time with it.
binary() { # SOURCE TARGET
    install -Dm755 "$1" "$2"
    strip --strip-debug "$2"
}

control() { # STAGE PACKAGE DESCRIPTION DEPENDS
    mkdir -p "$1/DEBIAN"
    cat > "$1/DEBIAN/control" <<CONTROL
Package: $2
Version: $version
Architecture: $arch
Maintainer: rackswarm authors <rackswarm@localhost>
Section: admin
Priority: optional
Depends: $4
Installed-Size: $(du -sk --exclude=DEBIAN "$1" | cut -f1)
Description: $3
 Built from commit $commit.
CONTROL
}

# rackswarm: the reconciler.
stage=$work/rackswarm
binary "$BIN/reconcile" "$stage/usr/bin/reconcile"
install -Dm644 "$root/deploy/systemd/rackswarm-reconciler.service" \
    "$stage/lib/systemd/system/rackswarm-reconciler.service"
install -Dm644 "$root/deploy/etc/reconciler.yaml" "$stage/etc/rackswarm/reconciler.yaml"
install -Dm644 "$root/deploy/prometheus/alerts.yaml" "$stage/usr/share/rackswarm/prometheus/alerts.yaml"
install -Dm644 "$root/deploy/grafana/rackswarm.json" "$stage/usr/share/rackswarm/grafana/rackswarm.json"
install -Dm644 "$root/README.md" "$stage/usr/share/doc/rackswarm/README.md"
manuals "$BIN/reconcile" "$stage"
control "$stage" rackswarm "GitOps reconciler for bare-metal data centers (reconcile)" \
    "libc6 (>= 2.36), libgcc-s1, libstdc++6, zlib1g, libgit2-1.5, libyaml-0-2, libssl3, libsqlite3-0, git"
echo "/etc/rackswarm/reconciler.yaml" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
POSTINST
chmod 755 "$stage/DEBIAN/postinst"
deb() { # STAGE DEB
    if [ "$compression" = fast ]; then dpkg-deb --root-owner-group -Zgzip -z1 --build "$1" "$2" >/dev/null
    else dpkg-deb --root-owner-group -Zxz --build "$1" "$2" >/dev/null; fi
}
deb "$stage" "$out/rackswarm_${version}_${arch}.deb"

# rackswarm-agent: the node agent, for Debian-based images.
stage=$work/rackswarm-agent
binary "$BIN/provision-agent" "$stage/usr/bin/provision-agent"
install -Dm644 "$root/deploy/systemd/provision-agent.service" "$stage/lib/systemd/system/provision-agent.service"
manuals "$BIN/provision-agent" "$stage"
control "$stage" rackswarm-agent "rackswarm node agent (provision-agent): installs images and services" \
    "libc6, libgcc-s1, libstdc++6, zlib1g, libssl3"
deb "$stage" "$out/rackswarm-agent_${version}_${arch}.deb"

# The agent as an RPM, for RPM-based images (the same files).
top=$work/rpm
mkdir -p "$top/SPECS" "$top/BUILD" "$top/RPMS"
cat > "$top/SPECS/rackswarm-agent.spec" <<SPEC
Name: rackswarm-agent
Version: $version
Release: 1
Summary: rackswarm node agent (provision-agent)
License: Proprietary
AutoReqProv: no
%global debug_package %{nil}
%global __os_install_post %{nil}
%description
Installs images and services on rackswarm nodes. Built from commit $commit.
%install
mkdir -p %{buildroot}
cp -a $stage/usr $stage/lib %{buildroot}/
%files
/usr/bin/provision-agent
/lib/systemd/system/provision-agent.service
/usr/share/man/man1/*
/usr/share/bash-completion/completions/provision-agent
/usr/share/zsh/vendor-completions/_provision-agent
/usr/share/fish/vendor_completions.d/provision-agent.fish
SPEC
payload=w9.xzdio
[ "$compression" = fast ] && payload=w1.gzdio
rpmbuild --quiet -bb --define "_topdir $top" --define "_build_id_links none" --define "_binary_payload $payload" \
    "$top/SPECS/rackswarm-agent.spec" >/dev/null
cp "$top"/RPMS/*/rackswarm-agent-*.rpm "$out/"
ls -1 "$out"
