# Helpers for building small test and lab RPMs with rpmbuild; sourced by Tests/PackagesTests/Fixtures/make-repo.sh
# and scripts/lab/make-service-repo.sh. The caller sets `top` (the rpmbuild top directory).
#
# spec NAME VERSION EXTRA_HEADER INSTALL_BODY FILES [POST]
#   Builds NAME-VERSION-$RPM_RELEASE.$RPM_ARCH.rpm (defaults: release 1, noarch; rs-busybox-sh is always built for
#   the machine's architecture, since it ships a binary). AutoReq is off: rpmbuild would otherwise add
#   `Requires: /bin/sh`, which nothing provides in an empty install root.
spec() {
    local name=$1 version=$2 header=$3 install=$4 files=$5 post=${6:-}
    local release=${RPM_RELEASE:-1} arch=${RPM_ARCH:-noarch}
    local archline="BuildArch: $arch" target=()
    [ "$name" = rs-busybox-sh ] && archline="" && arch=""
    if [ -n "$arch" ] && [ "$arch" != noarch ]; then
        archline="" target=(--target "$arch")
    fi
    cat > "$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: $release
Summary: rackswarm test package $name
License: MIT
AutoReq: no
AutoProv: yes
$archline
$header
%description
rackswarm test package $name.
%prep
%build
%install
mkdir -p %{buildroot}
$install
%files
$files
$post
SPEC
    rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" \
        --define "__strip /bin/true" --define "debug_package %{nil}" "${target[@]}" \
        -bb "$top/SPECS/$name.spec" >/dev/null
}

# A daemon script: its kernel comm is its file name, e.g. mediaServer.
daemon_body() {
    printf '#!/bin/sh\nwhile :; do sleep 1; done\n'
}

# A SysV-style init script that starts ROOT-relative daemon $1 and keeps a pid file.
init_body() {
    local daemon=$1
    cat <<INIT
#!/bin/sh
# Started by provision-agent with the node's install root in RACKSWARM_ROOT.
root=\${RACKSWARM_ROOT:-}
pidfile="\$root/var/run/$daemon.pid"
case "\$1" in
start)
    mkdir -p "\$root/var/run"
    nohup "\$root/usr/sbin/$daemon" >/dev/null 2>&1 </dev/null &
    echo \$! > "\$pidfile"
    ;;
stop)
    [ -f "\$pidfile" ] && kill "\$(cat "\$pidfile")" 2>/dev/null
    rm -f "\$pidfile"
    ;;
*) echo "usage: \$0 start|stop" >&2; exit 2 ;;
esac
INIT
}
