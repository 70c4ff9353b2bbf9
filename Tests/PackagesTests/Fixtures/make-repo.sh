#!/usr/bin/env bash
# Builds the test RPMs (the paper's VOD service: std_cd then std_cs; an httpd stand-in; failure cases)
# with rpmbuild into OUT/repo and indexes them with createrepo_c. Usage: make-repo.sh OUT
set -euo pipefail
out=$1
top="$out/rpmbuild"
repo="$out/repo"
mkdir -p "$top"/{BUILD,RPMS,SOURCES,SPECS,SRPMS,BUILDROOT} "$repo"
busybox=$(command -v busybox)

# spec, daemon_body, init_body.
source "$(dirname "$0")/../../../scripts/lab/rpm-lib.sh"

src="$out/src"; mkdir -p "$src"
daemon_body > "$src/daemon"
init_body mediaServer > "$src/init-cs"
init_body httpd > "$src/init-httpd"
init_body mediaServer > "$src/init-bad"
printf '#!/bin/sh\necho "cannot bind port 554" >&2\nexit 1\n' > "$src/init-fail"
printf '#!/bin/sh\nsleep 0.3\n' > "$src/shortlived"
chmod +x "$src"/*

# The shell every scriptlet needs inside an empty install root.
spec rs-busybox-sh 1.0 "" \
    "mkdir -p %{buildroot}/bin && cp $busybox %{buildroot}/bin/sh" \
    "/bin/sh"

# VOD: std_cd (content delivery, no script; %post needs /bin/sh), then std_cs (content server).
spec std_cd 1.0 "Requires(post): rs-busybox-sh" \
    "mkdir -p %{buildroot}/usr/share/std_cd && echo catalog > %{buildroot}/usr/share/std_cd/catalog" \
    "/usr/share/std_cd/catalog" \
    "%post
echo installed > /usr/share/std_cd/post-ran"
spec std_cs 1.0 "" \
    "install -D -m 0755 $src/daemon %{buildroot}/usr/sbin/mediaServer
install -D -m 0755 $src/init-cs %{buildroot}/etc/init.d/cs" \
    "/usr/sbin/mediaServer
/etc/init.d/cs"

# WEB: an httpd stand-in.
spec httpd 2.2.9 "" \
    "install -D -m 0755 $src/daemon %{buildroot}/usr/sbin/httpd
install -D -m 0755 $src/init-httpd %{buildroot}/etc/init.d/httpd" \
    "/usr/sbin/httpd
/etc/init.d/httpd"

# Failure cases: a broken dependency, a start script that exits 1, a process that dies after start.
spec std_broken 1.0 "Requires: rs-does-not-exist" \
    "mkdir -p %{buildroot}/usr/share/std_broken && echo x > %{buildroot}/usr/share/std_broken/x" \
    "/usr/share/std_broken/x"
spec std_failstart 1.0 "" \
    "install -D -m 0755 $src/init-fail %{buildroot}/etc/init.d/failstart" \
    "/etc/init.d/failstart"
spec std_flaky 1.0 "" \
    "install -D -m 0755 $src/shortlived %{buildroot}/usr/sbin/mediaServer
install -D -m 0755 $src/init-bad %{buildroot}/etc/init.d/flaky" \
    "/usr/sbin/mediaServer
/etc/init.d/flaky"

# A package whose %post scriptlet runs ~5 s (a busybox loop: no sleep applet in the chroot), so a test can kill
# dnf in the middle of its transaction.
spec std_slowpost 1.0 "Requires(post): rs-busybox-sh" \
    "mkdir -p %{buildroot}/usr/share/std_slowpost && echo x > %{buildroot}/usr/share/std_slowpost/x" \
    "/usr/share/std_slowpost/x" \
    "%post
i=0; while [ \$i -lt 5000000 ]; do i=\$((i+1)); done"

find "$top/RPMS" -name '*.rpm' -exec cp {} "$repo/" \;
createrepo_c --quiet "$repo"
