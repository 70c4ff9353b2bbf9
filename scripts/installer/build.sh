#!/usr/bin/env bash
# `make installer`: rackswarm's install environment from Debian's packages (docs/install-environment.md).
# Output in OUT: vmlinuz (the distribution kernel), initramfs.img (busybox, the kernel modules a server needs,
# provision-agent with the shared libraries ldd names, our init) and SHA256SUMS.
# Reproducible: the same packages and agent binary give the same bytes (sorted newc cpio, every mtime
# SOURCE_DATE_EPOCH, which defaults to the kernel package's own timestamp; zstd single-threaded at a fixed level).
# Usage: build.sh OUT AGENT_BINARY     Environment: KERNEL_PACKAGE (default: what linux-image-amd64 depends on),
#   DEBS_DIR (where the .debs are kept, default OUT/debs).
set -euo pipefail
out=$(realpath -m "$1")
agent=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
debs=$(realpath -m "${DEBS_DIR:-$out/debs}")
work="$out/work"
mkdir -p "$debs"

kernel_package=${KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" { print $2; exit }')}
[ -n "$kernel_package" ] || { echo "build.sh: cannot tell which kernel linux-image-amd64 names" >&2; exit 1; }

# fetch PACKAGE: the .deb from the machine's own apt sources, once.
fetch() {
    local version
    version=$(apt-cache policy "$1" | awk '$1 == "Candidate:" { print $2 }')
    [ -n "$version" ] && [ "$version" != "(none)" ] || { echo "build.sh: no package $1 in apt's lists" >&2; exit 1; }
    local file="$debs/${1}_${version//:/%3a}_amd64.deb"
    if [ ! -s "$file" ]; then
        (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download "$1=$version" >&2)
    fi
    echo "$file"
}
kernel_deb=$(fetch "$kernel_package")
busybox_deb=$(fetch busybox-static)

rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox" "$work/root"
dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
vmlinuz=$(find "$work/kernel/boot" -name 'vmlinuz-*' | head -1)
kver=${vmlinuz##*/vmlinuz-}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$vmlinuz")}

root="$work/root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,target,root,usr/bin,usr/local/bin,lib64}

# busybox and a link per applet.
install -m 0755 "$work/busybox/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
# The kernel asks /sbin/modprobe for what a module needs at run time (ext4's crc32c).
ln -s ../bin/busybox "$root/sbin/modprobe"

# Kernel modules: the NICs and disks a server has, and what they depend on (kmod resolves it from the package's
# own modules.dep, made here by depmod since the package leaves that to its postinst).
depmod -b "$work/kernel" "$kver"
modules=(virtio_pci virtio_net virtio_blk virtio_scsi e1000 e1000e igb ixgbe i40e mlx5_core ahci nvme sd_mod ext4
         crc32c_generic)
files=$(for module in "${modules[@]}"; do
    modprobe -d "$work/kernel" -S "$kver" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
done | sort -u)
for file in $files; do
    relative=${file#"$work/kernel"/}
    mkdir -p "$root/$(dirname "$relative")"
    cp "$file" "$root/$relative"
done
cp "$work/kernel/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kver/"
depmod -b "$root" "$kver"

# provision-agent, stripped, with the shared libraries it loads (the Swift runtime is linked in statically).
objcopy --strip-all "$agent" "$root/usr/local/bin/provision-agent"
ldd "$agent" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | sort -u | while read -r library; do
    target="$root$(dirname "$library")"
    mkdir -p "$target"
    cp -L "$library" "$target/"
done
mkdir -p "$root/lib/x86_64-linux-gnu"
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
printf '%s\n' "$kernel_package $(dpkg-deb -f "$kernel_deb" Version)" \
    "busybox-static $(dpkg-deb -f "$busybox_deb" Version)" > "$root/etc/rackswarm-installer"

# Same modes whatever the umask, then the archive.
find "$root" -type d -exec chmod 0755 {} +
chmod 1777 "$root/tmp"
python3 "$here/newc.py" "$root" "$SOURCE_DATE_EPOCH" | zstd -q -T1 -12 -c > "$out/initramfs.img.new"
mv "$out/initramfs.img.new" "$out/initramfs.img"
install -m 0644 "$vmlinuz" "$out/vmlinuz"
touch -d "@$SOURCE_DATE_EPOCH" "$out/vmlinuz" "$out/initramfs.img"
(cd "$out" && sha256sum vmlinuz initramfs.img > SHA256SUMS)
echo "installer: $out (kernel $kver, initramfs $(du -k --apparent-size "$out/initramfs.img" | cut -f1) KiB," \
     "$(du -sk --apparent-size "$root" | cut -f1) KiB unpacked)"
