#!/usr/bin/env bash
# Starts one simulated IPMI BMC (openipmi's ipmi_sim) on 127.0.0.1:PORT in DIR, user admin / PASSWORD.
# Its chassis hook records power and boot device in DIR/power, DIR/boot and DIR/log; when DIR/on-power is an
# executable, the hook also runs it with on, off or reset (the virtual data center starts and stops the node's
# firmware there). With FIRMWARE (a shell command line), DIR/on-power is written to run it as the node's
# firmware in a session of its own: power on starts it, power off kills the session, a reset does both. When
# DIR/alive is an executable (the virtual data center writes one for VM nodes), `get power` reports off while it
# fails, so a host that powered itself off reads as off.
# Prints the ipmi_sim PID. Usage: ipmi-bmc.sh DIR PORT PASSWORD [FIRMWARE]
set -euo pipefail
dir=$1 port=$2 password=$3 firmware=${4:-}
mkdir -p "$dir/state"
echo 0 > "$dir/power"
if [ -n "$firmware" ]; then
    printf '%s\n' "$firmware" > "$dir/firmware"
    cat > "$dir/on-power" <<'POWER'
#!/bin/bash
# on | off | reset: start, kill, or restart the node's firmware session.
dir=$(dirname "$0")
if [ -s "$dir/firmware.pid" ]; then kill -9 -- "-$(cat "$dir/firmware.pid")" 2>/dev/null; fi
: > "$dir/firmware.pid"
[ "$1" = off ] && exit 0
# The firmware must not hold the simulator's socket: close every inherited descriptor first.
(
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid sh -c "$(cat "$dir/firmware")"
) < /dev/null > /dev/null 2>&1 &
echo $! > "$dir/firmware.pid"
exit 0
POWER
    chmod +x "$dir/on-power"
fi
cat > "$dir/chassis.sh" <<'HOOK'
#!/bin/sh
dir=$(dirname "$0")
op=$1; shift
if [ "$op" = get ]; then
    for what in "$@"; do
        case "$what" in
            power)
                # A host that powered itself off (a VM's poweroff) reads as off, as a real BMC reports it: DIR/alive,
                # when present, says whether the host still runs.
                state=$(cat "$dir/power" 2>/dev/null || echo 0)
                if [ "$state" = 1 ] && [ -x "$dir/alive" ] && ! "$dir/alive"; then state=0; fi
                echo "power:$state" ;;
            boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
        esac
    done
else
    while [ $# -ge 2 ]; do
        echo "$1 $2" >> "$dir/log"
        case "$1" in
            power) echo "$2" > "$dir/power" ;;
            reset) [ "$2" = 1 ] && echo 1 > "$dir/power" ;;
            boot) echo "$2" > "$dir/boot" ;;
        esac
        if [ -x "$dir/on-power" ]; then
            case "$1 $2" in
                "power 1") "$dir/on-power" on ;;
                "power 0") "$dir/on-power" off ;;
                "reset 1") "$dir/on-power" reset ;;
            esac
        fi
        shift 2
    done
fi
exit 0
HOOK
chmod +x "$dir/chassis.sh"
cat > "$dir/lan.conf" <<CONF
name "bmc$port"
set_working_mc 0x20
  chassis_control "$dir/chassis.sh"
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true "admin" "$password" admin 10 none md2 md5 straight
CONF
cat > "$dir/bmc.emu" <<EMU
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
EMU
# The simulator outlives this script: it must not keep any of our descriptors open (a parent waiting for this
# script through an inherited socket or pipe would wait for the simulator instead).
(
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec ipmi_sim -c "$dir/lan.conf" -f "$dir/bmc.emu" -s "$dir/state" -n < /dev/null > "$dir/sim.log" 2>&1
) &
echo $!
