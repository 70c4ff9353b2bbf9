#!/usr/bin/env bash
# Builds the RPMs of examples/datacenter's services for the virtual data center, named exactly as the services'
# `rpm:` fields say, into OUT/repo (indexed with createrepo_c):
#   vod: std_cd-1.0-1.i386.rpm (catalog; %post needs /bin/sh), std_cs-1.0-1.i386.rpm (/etc/init.d/cs, mediaServer)
#   web: httpd-2.2.9-4.Gxdl.i386.rpm (/etc/init.d/httpd, a process named httpd)
# plus rs-busybox-sh (a static /bin/sh for scriptlets in an empty node root). Usage: make-service-repo.sh OUT
set -euo pipefail
out=$1
top="$out/rpmbuild"
repo="$out/repo"
rm -rf "$top"
mkdir -p "$top"/{BUILD,RPMS,SOURCES,SPECS,SRPMS,BUILDROOT} "$repo"
busybox=$(command -v busybox)
source "$(dirname "$0")/rpm-lib.sh"

src="$out/src"
mkdir -p "$src"
daemon_body > "$src/daemon"
init_body mediaServer > "$src/init-cs"
init_body httpd > "$src/init-httpd"
chmod +x "$src"/*

spec rs-busybox-sh 1.0 "" \
    "mkdir -p %{buildroot}/bin && cp $busybox %{buildroot}/bin/sh" \
    "/bin/sh"
RPM_ARCH=i386 spec std_cd 1.0 "Requires(post): rs-busybox-sh" \
    "mkdir -p %{buildroot}/usr/share/std_cd && echo catalog > %{buildroot}/usr/share/std_cd/catalog" \
    "/usr/share/std_cd/catalog" \
    "%post
echo installed > /usr/share/std_cd/post-ran"
RPM_ARCH=i386 spec std_cs 1.0 "" \
    "install -D -m 0755 $src/daemon %{buildroot}/usr/sbin/mediaServer
install -D -m 0755 $src/init-cs %{buildroot}/etc/init.d/cs" \
    "/usr/sbin/mediaServer
/etc/init.d/cs"
RPM_ARCH=i386 RPM_RELEASE=4.Gxdl spec httpd 2.2.9 "" \
    "install -D -m 0755 $src/daemon %{buildroot}/usr/sbin/httpd
install -D -m 0755 $src/init-httpd %{buildroot}/etc/init.d/httpd" \
    "/usr/sbin/httpd
/etc/init.d/httpd"

find "$top/RPMS" -name '*.rpm' -exec cp {} "$repo/" \;
createrepo_c --quiet "$repo"
