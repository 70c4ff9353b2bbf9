#!/usr/bin/env bash
# What a virtual data center node does on power-on, inside its own network namespace (scripts/lab/vdc.py starts
# it from the BMC's power hook). Like iPXE: DHCP on eth0, TFTP-fetch the per-MAC chain entry
# ipxe/01-aa-bb-….ipxe, follow it (the per-MAC HTTP script for iPXE nodes, pxelinux.cfg/ or grub/ over TFTP for
# the others). An install entry: fetch the kernel and initrd (each must answer 200), run `provision-agent install`
# with the entry's kernel arguments, and on success "reboot" (start over from DHCP). A local-boot entry, or no
# entry at all: "boot from disk", i.e. run `provision-agent serve` for the node's own root.
# Every step is logged to LABDIR/nodes/NODE/console.log as `firmware: phase=…`.
# Usage: node-firmware.sh LABDIR NODE
set -uo pipefail
lab=$1 node=$2
here=$(cd "$(dirname "$0")" && pwd)
dir="$lab/nodes/$node"
# shellcheck source=/dev/null
source "$dir/node.env"   # NODE MAC IFACE DISK ROOT AGENT AGENT_PORT KEY_FILE BT_PORT [REPORT_TO]
exec >> "$dir/console.log" 2>&1
echo $$ > "$dir/firmware.pid"

say() { echo "$(date -u +%H:%M:%S.%3N) firmware: $*"; }
pxe=01-${MAC//:/-}
work="$dir/boot"

halt() {
    say "phase=halted $*"
    # Stay "on" in the state we reached, as a real machine would, until the BMC powers us off.
    while :; do sleep 3600; done
}

dhcp() {
    say "phase=dhcp interface=$IFACE mac=$MAC"
    rm -f "$work/lease"
    local attempt=0
    # Like a PXE ROM set to retry forever: the reconciler may write this node's reservation later.
    while :; do
        attempt=$((attempt + 1))
        # Option 175 (iPXE encapsulated options) makes the DHCP server hand out the iPXE dispatcher.
        if RACKSWARM_LEASE="$work/lease" busybox udhcpc -i "$IFACE" -f -q -n -t 4 -T 1 -A 1 \
            -s "$here/udhcpc-hook.sh" -x 0xaf:01 -V PXEClient; then
            # shellcheck source=/dev/null
            source "$work/lease"
            say "phase=dhcp-bound ip=$lease_ip server=$lease_server boot_file=$lease_boot_file"
            return 0
        fi
        say "no DHCP answer (attempt $attempt)"
        sleep 2
    done
}

# tftp_get REMOTE LOCAL: busybox tftp with a time bound (it has no timeout of its own). Like a PXE ROM, a
# transfer that times out is tried again (up to three times); a missing file is not.
tftp_get() {
    local attempt output
    for attempt in 1 2 3; do
        rm -f "$2"
        output=$(timeout 20 busybox tftp -g -r "$1" -l "$2" "$lease_server" 2>&1) && [ -s "$2" ] && return 0
        [ -n "$output" ] && echo "$output"
        case "$output" in *"not found"* | *"File not found"*) return 1 ;; esac
        say "tftp $1: attempt $attempt failed"
    done
    return 1
}

# http_get URL LOCAL: 200 or fail.
http_get() {
    local code
    code=$(curl -sS --max-time 60 -o "$2" -w '%{http_code}' "$1") || return 1
    [ "$code" = 200 ] || { say "GET $1: HTTP $code"; return 1; }
}

# Sets entry_kind (install|local), kernel, initrd (URL or tftp:PATH) and kernel_args from the node's entry.
read_entry() {
    entry_kind="" kernel="" initrd="" kernel_args=""
    if ! tftp_get "ipxe/$pxe.ipxe" "$work/chain.ipxe"; then
        say "phase=no-entry no ipxe/$pxe.ipxe on TFTP: next boot device (disk)"
        entry_kind=local
        return 0
    fi
    local target
    target=$(awk '$1 == "chain" { print $2; exit }' "$work/chain.ipxe")
    say "phase=chain target=$target"
    case "$target" in
    http://*)
        http_get "$target" "$work/entry" || return 1
        if grep -q '^sanboot' "$work/entry"; then
            entry_kind=local
        elif grep -q '^kernel ' "$work/entry"; then
            entry_kind=install
            # kernel URL ARGS… || goto failed
            kernel=$(awk '$1 == "kernel" { print $2; exit }' "$work/entry")
            kernel_args=$(awk '$1 == "kernel" { for (i = 3; i <= NF && $i != "||"; i++) printf "%s ", $i; exit }' \
                "$work/entry")
            initrd=$(awk '$1 == "initrd" { print $2; exit }' "$work/entry")
        fi
        ;;
    */pxelinux.0)
        tftp_get "pxelinux.cfg/$pxe" "$work/entry" || return 1
        if grep -q 'LOCALBOOT' "$work/entry"; then
            entry_kind=local
        else
            entry_kind=install
            kernel=tftp:$(awk '$1 == "KERNEL" { print $2; exit }' "$work/entry")
            initrd=tftp:$(awk '$1 == "INITRD" { print $2; exit }' "$work/entry")
            kernel_args=$(awk '$1 == "APPEND" { $1 = ""; print; exit }' "$work/entry")
        fi
        ;;
    */grub*)
        tftp_get "grub/grub.cfg-$pxe" "$work/entry" || return 1
        if grep -q '^ *linux ' "$work/entry"; then
            entry_kind=install
            kernel=tftp:$(awk '$1 == "linux" { print $2; exit }' "$work/entry")
            initrd=tftp:$(awk '$1 == "initrd" { print $2; exit }' "$work/entry")
            # GRUB single-quotes arguments with special characters; the install arguments never need it.
            kernel_args=$(awk '$1 == "linux" { $1 = ""; $2 = ""; print; exit }' "$work/entry" | tr -d "'")
        else
            entry_kind=local
        fi
        ;;
    *)
        say "chain entry names no loader this lab knows: $target"
        return 1
        ;;
    esac
    [ -n "$entry_kind" ] || { say "cannot read the entry ($target)"; return 1; }
}

fetch_boot_file() {
    case "$1" in
    tftp:*) tftp_get "${1#tftp:}" "$2" ;;
    *) http_get "$1" "$2" ;;
    esac
}

mkdir -p "$work" "$ROOT"
say "phase=power-on node=$NODE"
while :; do
    dhcp
    read_entry || halt "no usable boot entry"
    if [ "$entry_kind" = local ]; then
        say "phase=local-boot agent=$lease_ip:$AGENT_PORT root=$ROOT"
        mkdir -p "$ROOT/var/lib/provision-agent"
        # The node's own agent key, as the install wrote it (the site key only for a node never installed here).
        key_file=$ROOT/etc/rackswarm/agent.key
        [ -s "$key_file" ] || key_file=$KEY_FILE
        args=(serve --listen "$lease_ip:$AGENT_PORT" --node "$NODE" --key-file "$key_file"
              --state-dir "$dir/agent-state" --install-root "$ROOT" --releasever 1 --no-gpg-check
              --rpm-dbpath /var/lib/rpm --package-manager "${PACKAGE_MANAGER:-dnf}")
        [ -n "${REPORT_TO:-}" ] && args+=(--report-to "$REPORT_TO")
        # The installed system seeds its image from the disk to the rest of its rack.
        [ -s "$dir/installed.torrent" ] && args+=(--seed-torrent "$dir/installed.torrent" --seed-data "$DISK"
                                                  --seed-listen "$lease_ip:$BT_PORT")
        exec "$AGENT" "${args[@]}"
    fi
    say "phase=install-kernel kernel=$kernel initrd=$initrd"
    fetch_boot_file "$kernel" "$work/kernel" || halt "cannot fetch the kernel $kernel"
    fetch_boot_file "$initrd" "$work/initrd" || halt "cannot fetch the initrd $initrd"
    echo "$kernel_args" > "$work/cmdline"
    say "phase=installing cmdline=$(echo "$kernel_args" | sed 's/rackswarm\.token=[^ ]*/rackswarm.token=(hidden)/')"
    "$AGENT" install --cmdline "$work/cmdline" --disk "$DISK" --root "$ROOT" --listen "$lease_ip:$BT_PORT" \
        ${SEED_FOR:+--seed-for "$SEED_FOR"}
    status=$?
    if [ "$status" -ne 0 ]; then
        halt "install failed (exit $status)"
    fi
    say "phase=rebooting"
    # The installed system will seed its image from the disk: keep the torrent with it.
    torrent=$(tr ' ' '\n' < "$work/cmdline" | sed -n 's/^rackswarm.torrent=//p')
    curl -sf --max-time 10 -o "$dir/installed.torrent" "$torrent" || rm -f "$dir/installed.torrent"
    # A real machine takes a while to come back; so does this one, which also keeps a node whose entry was not
    # flipped from reinstalling in a tight loop.
    sleep "${REBOOT_SECONDS:-2}"
done
