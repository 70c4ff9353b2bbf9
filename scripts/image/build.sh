#!/usr/bin/env bash
# `make image`: the example site's OS image (docs/os-image.md), a raw whole-disk image:
#   MBR partition table; partition 1 FAT "RSBOOT" (syslinux, the kernel, a small initrd); partition 2 ext4
#   "rackswarm-root" (Debian 12 minbase by debootstrap, systemd, rpm + dnf, the agent's unit, not the agent: the
#   install environment installs its own, docs/install-environment.md).
# Built without mounting anything: the root file system is written by mkfs.ext4 -d, the boot partition by mtools and
# `syslinux --offset`. The kernel and its modules come from the installer's kernel package (build/installer/debs).
# AGENT_BINARY is only checked against the image (every library it loads must be there); it is not copied in, so
# the image's bytes do not depend on the project's commit.
# Usage: build.sh OUT_IMAGE AGENT_BINARY INSTALLER_DIR
# Environment: DEBIAN_MIRROR (default: apt's first), PINNED_SITE_IMAGE (the Image document whose sha256 the built
# image is compared with; default examples/datacenter/images/debian-12.yaml).
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
# The root file system, cached by package list: debootstrap is the slow part. The list is fixed (it does not follow
# the agent): libssl3, libstdc++6 and zlib1g are what the agent loads beyond glibc; the check below names any
# library a newer agent needs and the image lacks.
packages=systemd,systemd-sysv,udev,kmod,iproute2,rpm,dnf,procps,busybox-static,libssl3,libstdc++6,zlib1g
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

# The unit that serves at boot, without the agent: the install environment copies its own agent to
# /usr/local/bin/provision-agent during post-install and writes the settings. The agent must find every library
# it loads in the image: checked on a copy that leaves again before the file system is written.
install -D -m 0755 "$agent" "$root/tmp/provision-agent.check"
missing=$(chroot "$root" ldd /tmp/provision-agent.check | grep 'not found' || true)
rm -f "$root/tmp/provision-agent.check"
if [ -n "$missing" ]; then
    echo "image/build.sh: the agent loads libraries the image lacks (add their packages to \$packages): $missing" >&2
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

# Reproducible: the same Debian packages and build tools give the same bytes (docs/os-image.md). Every
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

# Partition 2: the root file system, sized to its content plus room for the agent the install environment copies
# in (75 MiB today) and for services and logs. Free space costs a blank disk nothing (pieces of zeros are not
# fetched), but every byte is hashed: keep the slack small.
used_mib=$(( $(du -sm "$root" | cut -f1) ))
agent_room_mib=128
root_mib=$(( used_mib + used_mib / 10 + 48 + agent_room_mib ))
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
sha=$(sha256sum "$image" | cut -c1-64)
echo "image: $image ($total_mib MiB; root file system $used_mib MiB used; sha256 $sha)"

# examples/datacenter pins the SHA-256 of this image as built when it was committed. A build elsewhere or later may
# differ; that is a notice, not a failure (docs/os-image.md, "The SHA-256 examples/datacenter pins").
pinned_doc=${PINNED_SITE_IMAGE:-$here/../../examples/datacenter/images/debian-12.yaml}
pinned=$(awk '$1 == "sha256:" { gsub(/"/, "", $2); print $2 }' "$pinned_doc" 2> /dev/null | head -1)
if [ -n "$pinned" ] && [ "$pinned" != "$sha" ]; then
    cat <<NOTICE
image: NOTICE: this image's SHA-256 is not the one $pinned_doc pins
  built:  $sha
  pinned: $pinned
  The image is made of Debian's packages (the debootstrap tree from $mirror, the kernel and busybox
  packages in $installer/debs) and of this host's build tools (e2fsprogs, dosfstools, mtools, syslinux, zstd,
  kmod): a bookworm point release or kernel security update since the pin, or other tool versions, give other
  bytes. Nothing is wrong with this build. make demo and the VM tests pin the SHA-256 of the image they use in
  their own site repo; to use examples/datacenter as it is, pin this build's SHA-256 in your copy of it
  (docs/os-image.md).
NOTICE
fi
