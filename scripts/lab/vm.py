"""VM nodes for the virtual data center (scripts/lab/vdc.py): a qemu machine per node instead of a namespace and a
firmware script, booting exactly as a physical server does (docs/virtual-datacenter.md, "VM nodes").

Each VM has a blank virtio disk (LABDIR/nodes/NODE/disk.raw), a virtio NIC with the node's MAC on a tap device that
is a port of the core namespace's bridge, Debian's iPXE ROM as its PXE firmware, and its serial console appended to
LABDIR/nodes/NODE/console.log. qemu runs in the core namespace (the tap lives there) with a QMP socket; the node's
BMC drives it through `vdc.py power`: on starts qemu, off is QMP `quit` (a hard power-off), reset is QMP
`system_reset`, or a fresh start when the next boot device changed. The next boot device the BMC recorded
(`chassis bootdev pxe` → bmc/NODE/boot) is honoured once, as a BMC's boot flags are: `-boot once=n,order=c`; every
later reset (the installer's `reboot -f`) boots from the disk first, then the network.
TCG by default: /dev/kvm opens on the development machines but KVM guests hang there; `--accel kvm` where it works.
"""
import json
import os
import socket
import time

from netlab import LabError, sh

QEMU = "qemu-system-x86_64"


def tap_name(index):
    return f"t{index}"


def add_vm_node(state, lab, index, name, node, disk_size):
    """The VM's tap port on br0 and its blank disk; records how to start it."""
    core = state["core"]
    tap = tap_name(index)
    sh("ip", "-n", core, "tuntap", "add", "dev", tap, "mode", "tap")
    sh("ip", "-n", core, "link", "set", tap, "master", "br0", "up")
    directory = os.path.join(lab, "nodes", name)
    disk = os.path.join(directory, "disk.raw")
    with open(disk, "wb") as file:
        file.truncate(disk_size)
    return {"tap": tap, "disk": disk}


def qemu_pid(directory):
    try:
        with open(os.path.join(directory, "qemu.pid")) as file:
            pid = int(file.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            if directory.encode() not in file.read():
                return None
        return pid
    except (OSError, ValueError):
        return None


def next_boot(node):
    """The BMC's next boot device ("pxe", "disk", "default", …), cleared once read: boot flags apply to one boot."""
    path = os.path.join(node.get("bmcDir") or "", "boot")
    try:
        with open(path) as file:
            device = file.read().strip() or "default"
    except OSError:
        return "default"
    with open(path, "w") as file:
        file.write("default\n")
    return device


def start(lab, name, node, directory, boot):
    """Starts the VM (in the core namespace, detached) booting from `boot` first."""
    vm = node["vm"]
    console = os.path.join(directory, "console.log")
    qmp = os.path.join(directory, "qmp.sock")
    pid_file = os.path.join(directory, "qemu.pid")
    for path in (qmp, pid_file):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    once = "once=n," if boot == "pxe" else ""
    with open(console, "a") as log:
        log.write(f"{time.strftime('%H:%M:%S', time.gmtime())} power: on (vm, first boot device "
                  f"{'network' if once else 'disk'})\n")
    args = ["ip", "netns", "exec", node["core"], QEMU, "-name", f"{name},debug-threads=off",
            "-accel", vm.get("accel", "tcg"), "-cpu", "max", "-m", str(vm.get("memory", 1024)), "-smp", "1",
            "-machine", "graphics=off", "-vga", "none", "-display", "none", "-nodefaults", "-no-user-config",
            "-chardev", f"file,id=console,path={console},append=on", "-serial", "chardev:console",
            "-qmp", f"unix:{qmp},server=on,wait=off",
            "-drive", f"file={vm['disk']},format=raw,if=virtio,cache=unsafe,discard=unmap",
            "-netdev", f"tap,id=net0,ifname={vm['tap']},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={node['mac']}",
            "-boot", f"{once}order=cn,reboot-timeout=5000",
            "-pidfile", pid_file, "-daemonize"]
    sh(*args)
    deadline = time.monotonic() + 10
    while qemu_pid(directory) is None:
        if time.monotonic() > deadline:
            raise LabError(f"{name}: qemu did not start (see {console})")
        time.sleep(0.05)


def qmp(directory, command, timeout=5):
    """Sends one QMP command to the VM; returns its answer, or None when the VM is gone."""
    path = os.path.join(directory, "qmp.sock")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(path)
            stream = client.makefile("rw")
            json.loads(stream.readline())  # greeting
            stream.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
            stream.flush()
            json.loads(stream.readline())
            stream.write(json.dumps({"execute": command}) + "\n")
            stream.flush()
            while True:
                line = stream.readline()
                if not line:
                    return {}
                answer = json.loads(line)
                if "return" in answer or "error" in answer:
                    return answer
    except (OSError, ValueError):
        return None


def power_on(lab, name, node, directory):
    if qemu_pid(directory) is None:
        start(lab, name, node, directory, next_boot(node))


def power_off(node, directory):
    """A hard power-off: QMP `quit`, then SIGKILL if qemu lingers."""
    pid = qemu_pid(directory)
    if pid is None:
        return
    qmp(directory, "quit")
    deadline = time.monotonic() + 10
    while qemu_pid(directory) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if qemu_pid(directory) is not None:
        os.kill(pid, 9)
    with open(os.path.join(directory, "console.log"), "a") as log:
        log.write(f"{time.strftime('%H:%M:%S', time.gmtime())} power: off (vm)\n")


def reset(lab, name, node, directory):
    """A reset: QMP `system_reset`, or a new start when the BMC asked for a network boot (qemu's boot order is
    fixed for a running machine)."""
    boot = next_boot(node)
    if qemu_pid(directory) is not None and boot != "pxe":
        if qmp(directory, "system_reset") is not None:
            with open(os.path.join(directory, "console.log"), "a") as log:
                log.write(f"{time.strftime('%H:%M:%S', time.gmtime())} power: reset (vm)\n")
            return
    power_off(node, directory)
    start(lab, name, node, directory, boot)


def is_on(directory):
    return qemu_pid(directory) is not None
