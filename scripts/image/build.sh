#!/usr/bin/env bash
# `make image`: the example site's OS image (docs/os-image.md), a raw whole-disk image:
#   MBR partition table; partition 1 FAT "RSBOOT" (syslinux, the kernel, a small initrd); partition 2 ext4
#   "rackswarm-root" (Debian 12 minbase by debootstrap, systemd, rpm + dnf, provision-agent and its unit).
# Built without mounting anything: the root file system is written by mkfs.ext4 -d, the boot partition by mtools and
# `syslinux --offset`. The kernel and its modules come from the installer's kernel package (build/installer/debs).
# Usage: build.sh OUT_IMAGE AGENT_BINARY INSTALLER_DIR        Environment: DEBIAN_MIRROR (default: apt's first).
set -euo pipefail
image=$(realpath -m "$1")
agent=$(realpath "$2")
installer=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
work="$image.work"
suite=bookworm

mirror=${DEBIAN_MIRROR:-$(
    { cat /etc/apt/sources.list.d/*.sources 2> /dev/null | awk '$1 == "URIs:" { print $2 }'
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2> /dev/null | awk '$1 == "deb" { print $2 }'; } |
        grep -v security | head -1 || true)}
[ -n "$mirror" ] || { echo "image/build.sh: no Debian mirror in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }

kernel_deb=$(ls "$installer"/debs/linux-image-*.deb 2> /dev/null | head -1)
busybox_deb=$(ls "$installer"/debs/busybox-static_*.deb 2> /dev/null | head -1)
[ -n "$kernel_deb" ] && [ -n "$busybox_deb" ] || { echo "image/build.sh: run make installer first" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
root="$work/root"
# The root file system, cached by package list: debootstrap is the slow part.
# The agent's shared libraries (ldd) come from the packages that own them on this (Debian 12) build host.
agent_packages=$(ldd "$agent" | awk '/=> \// { print $3 }' | while read -r library; do
    dpkg -S "*/${library##*/}" 2> /dev/null | grep -v -e '-dev' -e '-dbg' | head -1 | cut -d: -f1
done | sort -u | paste -sd, -)
packages=systemd,systemd-sysv,udev,kmod,iproute2,rpm,dnf,procps,busybox-static${agent_packages:+,$agent_packages}
cache="$(dirname "$image")/debootstrap-$(echo "$suite $packages" | md5sum | cut -c1-12).tar"
if [ ! -s "$cache" ]; then
    debootstrap --variant=minbase --include="$packages" "$suite" "$work/bootstrap" "$mirror" > "$work/debootstrap.log"
    tar -C "$work/bootstrap" -cf "$cache.new" . && mv "$cache.new" "$cache"
    rm -rf "$work/bootstrap"
fi
mkdir -p "$root"
tar -C "$root" -xf "$cache"

# What a small server image does not need.
rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,linda} "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
    "$root"/usr/lib/udev/hwdb.d "$root"/usr/include "$root"/usr/share/i18n "$root"/usr/lib/x86_64-linux-gnu/gconv
find "$root" -name __pycache__ -prune -exec rm -rf {} +

# The kernel's modules (the same set as the installer's, plus what a booted system asks for) and depmod.
mkdir -p "$work/kernel"
dpkg-deb -x "$kernel_deb" "$work/kernel"
vmlinuz=$(find "$work/kernel/boot" -name 'vmlinuz-*' | head -1)
kver=${vmlinuz##*/vmlinuz-}
depmod -b "$work/kernel" "$kver"
modules=(virtio_pci virtio_net virtio_blk virtio_scsi virtio_rng virtio_console e1000 e1000e igb ixgbe i40e mlx5_core
         ahci nvme sd_mod ext4 vfat nls_cp437 nls_ascii crc32c_generic)
copy_modules() {
    local target=$1 module file
    for module in "${modules[@]}"; do
        modprobe -d "$work/kernel" -S "$kver" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
    done | sort -u | while read -r file; do
        mkdir -p "$target/$(dirname "${file#"$work/kernel"/}")"
        cp "$file" "$target/${file#"$work/kernel"/}"
    done
    cp "$work/kernel/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$target/lib/modules/$kver/"
    depmod -b "$target" "$kver"
}
copy_modules "$root"

# provision-agent and the unit that serves at boot (its settings come from the post-install actions); it must find
# every library it needs in the image.
install -D -m 0755 "$agent" "$root/usr/local/bin/provision-agent"
objcopy --strip-all "$root/usr/local/bin/provision-agent"
if missing=$(chroot "$root" ldd /usr/local/bin/provision-agent | grep 'not found'); then
    echo "image/build.sh: the agent lacks libraries in the image: $missing" >&2
    exit 1
fi
install -D -m 0644 "$here/provision-agent.service" "$root/etc/systemd/system/provision-agent.service"
install -D -m 0644 "$here/rackswarm-console.service" "$root/etc/systemd/system/rackswarm-console.service"
install -D -m 0755 "$here/console-banner" "$root/usr/local/sbin/rackswarm-console-banner"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/rackswarm"
ln -sf /etc/systemd/system/provision-agent.service "$root/etc/systemd/system/multi-user.target.wants/"
ln -sf /etc/systemd/system/rackswarm-console.service "$root/etc/systemd/system/multi-user.target.wants/"
# systemd-networkd brings up the interface the post-install network action names (DHCP on every wired one meanwhile).
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/"
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' > "$root/etc/systemd/network/90-wired-dhcp.network"
# A console login on ttyS0 for debugging (root, no password: a lab image; a real site sets its own).
sed -i 's|^root:[^:]*:|root::|' "$root/etc/shadow"
echo rackswarm > "$root/etc/hostname"
printf 'LABEL=rackswarm-root / ext4 defaults,noatime 0 1\n' > "$root/etc/fstab"
# dnf and rpm share one database under /var/lib/rpm (Debian's rpm would use ~/.rpmdb).
mkdir -p "$root/etc/rpm"
printf '%%_dbpath /var/lib/rpm\n' > "$root/etc/rpm/macros.rackswarm"
mkdir -p "$root/var/lib/rpm"

# Reproducible: the same debootstrap cache, kernel package and agent give the same bytes (docs/os-image.md). Every
# time inside the image is SOURCE_DATE_EPOCH (default: the kernel's own mtime, from its package); what tells two
# builds apart (the machine's identity, logs, caches, backup files) is removed.
epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$vmlinuz")}
export SOURCE_DATE_EPOCH=$epoch E2FSPROGS_FAKE_TIME=$epoch
: > "$root/etc/machine-id"
sed -i "s|^\([^:]*:[^:]*:\)[0-9][0-9]*:|\1$((epoch / 86400)):|" "$root/etc/shadow"
rm -f "$root/var/lib/dbus/machine-id" "$root/var/cache/ldconfig/aux-cache" "$root"/etc/*- "$root"/var/lib/dpkg/*-old \
    "$root"/var/cache/debconf/*-old
find "$root/var/log" -type f -delete
find "$root" -newermt "@$epoch" -exec touch -h -d "@$epoch" {} +

# The boot initrd: busybox, the disk modules, and an init that mounts LABEL=rackswarm-root and switches to it.
initrd="$work/initrd"
mkdir -p "$initrd"/{bin,sbin,proc,sys,dev,newroot} "$work/busybox"
dpkg-deb -x "$busybox_deb" "$work/busybox"
install -m 0755 "$work/busybox/bin/busybox" "$initrd/bin/busybox"
for applet in sh mount umount modprobe switch_root findfs sleep echo cat mkdir; do
    ln -s busybox "$initrd/bin/$applet"
done
# The kernel asks /sbin/modprobe for what a module needs at run time (ext4's crc32c).
ln -s ../bin/busybox "$initrd/sbin/modprobe"
modules=(virtio_pci virtio_blk virtio_scsi ahci nvme sd_mod ext4 crc32c_generic)
copy_modules "$initrd"
install -m 0755 "$here/boot-init" "$initrd/init"
python3 "$here/../installer/newc.py" "$initrd" "$epoch" | zstd -q -T1 -12 -c > "$work/initrd.img"

# Partition 2: the root file system, sized to its content plus room for services and logs (every byte of the
# image crosses the network and is hashed: keep the slack small).
used_mib=$(( $(du -sm "$root" | cut -f1) ))
root_mib=$(( used_mib + used_mib / 10 + 48 ))
boot_mib=32
rm -f "$work/root.ext4"
# Fixed UUID and directory hash seed; mke2fs -d copies each file's atime and ctime from the build host (the ctime
# cannot be set there), so debugfs sets both to the epoch afterwards.
fs_uuid=5a1e0b7e-0000-4000-8000-72636b73776d
mkfs.ext4 -q -L rackswarm-root -U "$fs_uuid" -O ^64bit,^metadata_csum -E root_owner=0:0,hash_seed="$fs_uuid" \
    -d "$root" "$work/root.ext4" "${root_mib}M"
(cd "$root" && find . -printf '%P\n') | awk -v t="$epoch" '{
    path = "/" $0; printf "sif \"%s\" atime @%s\nsif \"%s\" atime_extra 0\n", path, t, path
    printf "sif \"%s\" ctime @%s\nsif \"%s\" ctime_extra 0\n", path, t, path }' > "$work/times.debugfs"
debugfs -w -f "$work/times.debugfs" "$work/root.ext4" > /dev/null 2> "$work/debugfs.log"
if grep -v '^debugfs ' "$work/debugfs.log" | grep -q .; then
    echo "image/build.sh: debugfs could not set every time: $(grep -v '^debugfs ' "$work/debugfs.log" | head -3)" >&2
    exit 1
fi

# Partition 1: FAT with syslinux, the kernel and the initrd.
mkfs.vfat -h 2048 -n RSBOOT -i 5a1e0b7e --invariant -C "$work/boot.vfat" $((boot_mib * 1024)) > /dev/null
cat > "$work/syslinux.cfg" <<CFG
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=rackswarm-root console=tty0 console=ttyS0,115200 net.ifnames=0 quiet
CFG
touch -d "@$epoch" "$work/initrd.img" "$work/syslinux.cfg"
mcopy -m -i "$work/boot.vfat" "$vmlinuz" ::/vmlinuz
mcopy -m -i "$work/boot.vfat" "$work/initrd.img" ::/initrd.img
mcopy -m -i "$work/boot.vfat" "$work/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$work/boot.vfat"

# The disk: 1 MiB for the MBR, then the two partitions.
total_mib=$((1 + boot_mib + root_mib))
rm -f "$image.new"
truncate -s "${total_mib}M" "$image.new"
sfdisk -q "$image.new" <<TABLE
label: dos
label-id: 0x5a1e0b7e
start=1MiB, size=${boot_mib}MiB, type=c, bootable
start=$((1 + boot_mib))MiB, size=${root_mib}MiB, type=83
TABLE
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$image.new" conv=notrunc bs=440 count=1 status=none
dd if="$work/boot.vfat" of="$image.new" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$image.new" bs=1M seek=$((1 + boot_mib)) conv=notrunc,sparse status=none
mv "$image.new" "$image"
rm -rf "$work"
echo "image: $image ($total_mib MiB; root file system $used_mib MiB used)"
