#!/bin/sh
# busybox udhcpc's event script for a lab node: applies the leased address to the interface and writes what the
# DHCP server said (address, next-server, boot file) to $RACKSWARM_LEASE as shell assignments.
case "$1" in
deconfig)
    ip addr flush dev "$interface" 2>/dev/null
    ip link set "$interface" up
    ;;
bound|renew)
    ip addr flush dev "$interface" 2>/dev/null
    ip addr add "$ip/${mask:-24}" dev "$interface"
    ip link set "$interface" up
    {
        echo "lease_ip='$ip'"
        echo "lease_mask='${mask:-24}'"
        echo "lease_server='${siaddr:-$serverid}'"
        echo "lease_boot_file='${boot_file:-}'"
    } > "$RACKSWARM_LEASE"
    ;;
esac
exit 0
