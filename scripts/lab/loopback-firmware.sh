#!/bin/sh
# A lab node's firmware on the loopback network: what PXE and iPXE do at power on, without DHCP and TFTP (the
# namespace lab, scripts/lab/vdc.py, has those). It reads the node's per-MAC iPXE entry from the reconciler whose
# DHCP offer it took: an install entry fetches the kernel and initrd, then runs the install environment
# (`provision-agent install`) with the entry's kernel arguments; after the install's reboot, or for a local-boot
# entry, the node "boots from disk": it runs `provision-agent serve` for its services. A failed install stays in
# the install environment, as on real hardware, until the BMC cycles the node.
#
# Usage: loopback-firmware.sh NODE MAC IP SERVERS NODE_DIR PROVISION_AGENT SITE_KEY AGENT_PORT [HEARTBEATS]
# SERVERS is the segment's DHCP servers: one HOST:PORT, or a file (an absolute path) listing one HOST:PORT a line,
# read at every boot. Each stands for a reconciler's DHCP server whose next-server is itself (docs/scale-out.md,
# "The first hop"): every reservation is the same on all of them, and the client takes the first offer that
# comes. Here the firmware asks them in the file's order; one that does not answer at all (its host is down) made
# no offer, and the next one's is taken. A server that answers without an entry for the node is an offer with no
# boot entry, as before.
# (HEARTBEATS: HOST:PORT where the agent sends its heartbeats.)
# NODE_DIR holds disk (the node's disk), root/ (its installed system), agent/ and console.log. A file
# NODE_DIR/hang-once makes the next install environment hang without reporting (then the file is removed).
set -u
node=$1 mac=$2 ip=$3 servers=$4 dir=$5 agent=$6 key=$7 port=$8 heartbeats=${9:-}
pxe="01-$(printf '%s' "$mac" | tr ':A-F' '-a-f')"
mkdir -p "$dir/root" "$dir/agent"
exec >> "$dir/console.log" 2>&1
echo "firmware: $node powered on"

# Prints the node's per-MAC script from the first DHCP server that answers (exit 22: it answered, no entry).
first_offer() {
    case "$servers" in
    /*) list=$(cat "$servers" 2>/dev/null) ;;
    *) list=$servers ;;
    esac
    for server in $list; do
        script=$(curl -sf --connect-timeout 2 --max-time 5 "http://$server/ipxe/$pxe")
        status=$?
        case $status in
        0)
            echo "firmware: boot entry from $server" >&2
            printf '%s\n' "$script"
            return 0
            ;;
        22) return 22 ;;
        *) echo "firmware: no answer from $server" >&2 ;;
        esac
    done
    return 1
}

while :; do
    script=$(first_offer) || { echo "firmware: no boot entry"; break; }
    case "$script" in
    *sanboot*)
        echo "firmware: local boot"
        break
        ;;
    *"kernel "*)
        line=$(printf '%s\n' "$script" | grep '^kernel ')
        kernel=$(printf '%s\n' "$line" | awk '{print $2}')
        initrd=$(printf '%s\n' "$script" | grep '^initrd ' | awk '{print $2}')
        arguments=$(printf '%s\n' "$line" | sed -e 's/^kernel [^ ]* //' -e 's/ || goto failed$//')
        if ! curl -sf --max-time 10 -o /dev/null "$kernel" || ! curl -sf --max-time 10 -o /dev/null "$initrd"; then
            echo "firmware: kernel or initrd not served; retrying"
            sleep 2
            continue
        fi
        if [ -e "$dir/hang-once" ]; then
            rm -f "$dir/hang-once"
            echo "firmware: install environment hangs"
            exec sleep 100000
        fi
        echo "firmware: install kernel with: $(echo "$arguments" | sed 's/rackswarm\.token=[^ ]*/rackswarm.token=(hidden)/')"
        if ! "$agent" install --kernel-args "$arguments" --disk "$dir/disk" --root "$dir/root" --listen "$ip:6881"
        then
            echo "firmware: install failed; staying in the install environment"
            exec sleep 100000
        fi
        # The installed system seeds its image to the rest of its rack: keep the torrent with the disk.
        torrent=$(printf '%s\n' "$arguments" | tr ' ' '\n' | sed -n 's/^rackswarm.torrent=//p')
        curl -sf --max-time 10 -o "$dir/installed.torrent" "$torrent" || rm -f "$dir/installed.torrent"
        echo "firmware: rebooting"
        ;;
    *)
        echo "firmware: unusable boot entry"
        exec sleep 100000
        ;;
    esac
done
echo "firmware: starting the agent"
# Services go into the node's own root with dnf (an empty root: release 1, unsigned lab RPMs); the installed
# image is seeded from the disk.
set -- --install-root "$dir/root" --releasever 1 --no-gpg-check --rpm-dbpath /var/lib/rpm
[ -n "$heartbeats" ] && set -- "$@" --report-to "$heartbeats" --heartbeat-interval 5
if [ -s "$dir/installed.torrent" ]; then
    set -- "$@" --seed-torrent "$dir/installed.torrent" --seed-data "$dir/disk" --seed-listen "$ip:6881"
fi
# The node's own agent key, as the install's post-install step wrote it into the root (SITE_KEY only for a node
# that was never installed here: the reconciler then cannot talk to it).
[ -s "$dir/root/etc/rackswarm/agent.key" ] && key=$dir/root/etc/rackswarm/agent.key
exec "$agent" serve --listen "$ip:$port" --node "$node" --key-file "$key" --state-dir "$dir/agent" "$@"
