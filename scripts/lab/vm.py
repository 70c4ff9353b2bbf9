"""VM nodes for the virtual data center (scripts/lab/vdc.py): a qemu machine per node instead of a namespace and a
firmware script, booting exactly as a physical server does (docs/virtual-datacenter.md, "VM nodes").

Each VM has a blank virtio disk (LABDIR/nodes/NODE/disk), a virtio NIC with the node's MAC on a tap device that
is a port of the core namespace's bridge, Debian's iPXE ROM as its PXE firmware, and its serial console appended to
LABDIR/nodes/NODE/console.log. qemu runs in the core namespace (the tap lives there) with a QMP socket; the node's
BMC drives it through `vdc.py power` (VMNode is vdc.py's "vm" node kind): on starts qemu, off is QMP `quit` (a
hard power-off), reset is QMP `system_reset`, or a fresh start when the BMC asked for a network boot. The next boot
device the BMC recorded (`chassis bootdev pxe` → bmc/NODE/boot) is honoured once, as a BMC's boot flags are:
`-boot once=n,order=cn`; every later reset (the installer's `reboot -f`) boots from the disk first, then the network.
TCG by default: /dev/kvm opens on the development machines but KVM guests hang there; `--accel kvm` where it works.
"""
import json
import os
import shutil
import socket
import time

from netlab import LabError, sh

QEMU = "qemu-system-x86_64"


def vm_nodes(inventory, named, count):
    """The nodes that become qemu VMs: those `named`, then the first `count` other IPMI nodes. An IPMI node's VM is
    driven by its ipmi_sim's chassis hook ("vm" kind); a Redfish node's (`redfish+http`/`redfish+https`, named
    only) by sushy-emulator's libvirt driver ("libvirt" kind, scripts/lab/libvirt_vm.py). iLO nodes stay
    namespaces."""
    names = list(named or [])
    schemes = {node["name"]: node["bmc"]["scheme"] for node in inventory["nodes"]}
    for name in names:
        if schemes.get(name) not in ("ipmi", "redfish+http", "redfish+https"):
            raise LabError(f"--vm {name}: not an IPMI or Redfish node of the site "
                           f"({schemes.get(name) or 'no such node'})")
    ipmi = [name for name, scheme in schemes.items() if scheme == "ipmi"]
    extra = [name for name in ipmi if name not in names][:count]
    return {name: "vm" if schemes[name] == "ipmi" else "libvirt" for name in names + extra}


def install_pxelinux(tftp_root, net):
    """pxelinux.0 and its ldlinux.c32 in the TFTP root (links to Debian's pxelinux and syslinux-common files) for
    VMs whose entries chain pxelinux; a file already there is left alone."""
    for source in ("/usr/lib/PXELINUX/pxelinux.0", "/usr/lib/syslinux/modules/bios/ldlinux.c32"):
        if not os.path.exists(source):
            raise LabError(f"{source} is missing (apt-get install pxelinux syslinux-common)")
        net.add_symlink(source, os.path.join(tftp_root, os.path.basename(source)))


def note(directory, text):
    with open(os.path.join(directory, "console.log"), "a") as log:
        log.write(f"{time.strftime('%H:%M:%S', time.gmtime())} {text}\n")


def qmp(directory, command, timeout=5):
    """Sends one QMP command to the VM; returns its answer, or None when the VM does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(os.path.join(directory, "qmp.sock"))
            stream = client.makefile("rw")
            json.loads(stream.readline())  # the greeting
            for request in ({"execute": "qmp_capabilities"}, {"execute": command}):
                stream.write(json.dumps(request) + "\n")
                stream.flush()
                while True:
                    line = stream.readline()
                    if not line:
                        return {}
                    answer = json.loads(line)
                    if "return" in answer or "error" in answer:
                        break
            return answer
    except (OSError, ValueError):
        return None


class VMNode:
    """vdc.py's "vm" node kind: a qemu machine on a tap port of the lab bridge."""

    def __init__(self, disk_size=2 << 30, memory=1024, accel="tcg"):
        self.disk_size, self.memory, self.accel = disk_size, memory, accel

    def create(self, net, state, index, node, directory, env):
        """The VM's tap port on br0 and its blank disk (LABDIR/nodes/NODE/disk, re-made at the VM's size)."""
        tap = f"t{index}"
        sh("ip", "-n", state["core"], "tuntap", "add", "dev", tap, "mode", "tap")
        sh("ip", "-n", state["core"], "link", "set", tap, "master", "br0", "up")
        shutil.rmtree(os.path.join(directory, "root"), ignore_errors=True)
        disk = os.path.join(directory, "disk")
        with open(disk, "wb") as file:
            file.truncate(self.disk_size)
        return {"core": state["core"], "vm": {"tap": tap, "disk": disk, "memory": self.memory, "accel": self.accel}}

    def running_pid(self, lab, name, node):
        directory = os.path.join(lab, "nodes", name)
        try:
            with open(os.path.join(directory, "qemu.pid")) as file:
                pid = int(file.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                return pid if directory.encode() in file.read() else None
        except (OSError, ValueError):
            return None

    def next_boot(self, node):
        """The BMC's next boot device ("pxe", "disk", "default", …), cleared once read: boot flags hold for one
        boot, as a BMC's do."""
        path = os.path.join(node.get("bmcDir") or "", "boot")
        try:
            with open(path) as file:
                device = file.read().strip() or "default"
        except OSError:
            return "default"
        with open(path, "w") as file:
            file.write("default\n")
        return device

    def power_on(self, lab, name, node, boot=None):
        """Starts qemu (daemonized, in the core namespace), first from the network when the BMC asked for PXE."""
        directory = os.path.join(lab, "nodes", name)
        machine = node["vm"]
        console = os.path.join(directory, "console.log")
        pid_file = os.path.join(directory, "qemu.pid")
        for path in (os.path.join(directory, "qmp.sock"), pid_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        once = "once=n," if (boot or self.next_boot(node)) == "pxe" else ""
        note(directory, f"vm: first boot device {'network' if once else 'disk'}")
        sh("ip", "netns", "exec", node["core"], QEMU, "-name", name,
           "-accel", machine.get("accel", "tcg"), "-cpu", "max", "-m", str(machine.get("memory", 1024)),
           "-smp", "1", "-machine", "graphics=off", "-vga", "none", "-display", "none", "-nodefaults",
           "-no-user-config", "-chardev", f"file,id=console,path={console},append=on", "-serial", "chardev:console",
           "-qmp", f"unix:{os.path.join(directory, 'qmp.sock')},server=on,wait=off",
           "-drive", f"file={machine['disk']},format=raw,if=none,id=disk,cache=unsafe,discard=unmap",
           "-device", f"virtio-blk-pci,drive=disk,serial={disk_serial(name)}",
           "-netdev", f"tap,id=net0,ifname={machine['tap']},script=no,downscript=no",
           "-device", f"virtio-net-pci,netdev=net0,mac={node['mac']}",
           "-boot", f"{once}order=cn,reboot-timeout=5000", "-pidfile", pid_file, "-daemonize")
        deadline = time.monotonic() + 10
        while self.running_pid(lab, name, node) is None:
            if time.monotonic() > deadline:
                raise LabError(f"{name}: qemu did not start (see {console})")
            time.sleep(0.05)

    def power_off(self, lab, name, node):
        """A hard power-off: QMP `quit`, SIGKILL if qemu lingers."""
        directory = os.path.join(lab, "nodes", name)
        pid = self.running_pid(lab, name, node)
        if pid is None:
            return
        qmp(directory, "quit")
        deadline = time.monotonic() + 10
        while self.running_pid(lab, name, node) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.running_pid(lab, name, node) is not None:
            os.kill(pid, 9)

    def reset(self, lab, name, node):
        """QMP `system_reset`; a fresh start instead when the BMC asked for a network boot (a running qemu's boot
        order is fixed) or the VM is off."""
        directory = os.path.join(lab, "nodes", name)
        boot = self.next_boot(node)
        if boot != "pxe" and self.running_pid(lab, name, node) is not None:
            if qmp(directory, "system_reset") is not None:
                note(directory, "power: reset")
                return
        self.power_off(lab, name, node)
        note(directory, "power: reset (new start)")
        self.power_on(lab, name, node, boot=boot)

    def phase(self, lab, name, node):
        """The VM's phase from its serial console: the firmware's, the install environment's and the installed
        system's own lines."""
        markers = [("power: on", "power-on"), ("iPXE initialising", "pxe"),
                   ("rackswarm-installer: kernel", "install-kernel"), ("rackswarm-installer: address", "dhcp-bound"),
                   ("rackswarm-installer: installing", "installing"), ("rackswarm-installer: installed", "rebooting"),
                   ("INSTALL FAILED", "halted"), ("SYSLINUX", "local-boot"),
                   ("rackswarm: booted from disk", "running"), ("power: off", "off")]
        phase = "off"
        try:
            with open(os.path.join(lab, "nodes", name, "console.log"), errors="replace") as log:
                for line in log:
                    for marker, value in markers:
                        if marker in line:
                            phase = value
        except FileNotFoundError:
            pass
        return phase


def disk_serial(name):
    """The VM disk's serial number, as the install environment's inventory reports it: `rs-NODE` (20 characters
    at most, virtio-blk's limit)."""
    return ("rs-" + name)[:20]
