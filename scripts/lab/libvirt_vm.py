"""Redfish VM nodes for the virtual data center (scripts/lab/vdc.py): a qemu machine defined in a libvirt daemon
of the lab's own, driven by sushy-emulator's libvirt driver, the way Ironic's CI drives VMs
(docs/virtual-datacenter.md, "Redfish VM nodes").

The daemon is Debian's `libvirtd`, run in the core namespace (where the VMs' tap devices are) inside a private
mount namespace: LABDIR/libvirt/{etc,run,lib,cache,log} are bound over /etc/libvirt, /run/libvirt,
/var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt, so two labs never share a daemon, a domain or a socket,
and nothing of it outlives the lab (its processes die with the core namespace). It needs no systemd, no D-Bus and
no cgroup controller (`cgroup_controllers = []`): qemu runs as root without a security driver. Debian's build wants
a `libvirt-qemu` user even when qemu.conf names root, so the mount namespace also gets a passwd/group copy that
has one. Clients reach it at `qemu:///system?socket=LABDIR/libvirt/run/libvirt-sock`.

A domain per node: TCG (`type='qemu'`, `-cpu max`) unless `--accel kvm`, a blank raw virtio disk, virtio-net on the
node's tap port of br0 with the node's MAC (Debian's iPXE ROM, as qemu picks it), SeaBIOS on the serial port, the
serial console appended to LABDIR/nodes/NODE/console.log. sushy-emulator maps Redfish onto it: `On` → start,
`ForceOff` → destroy, `ForceRestart` → destroy + start (a cold start, so a changed boot device applies), `GracefulShutdown` → ACPI,
`BootSourceOverrideTarget` → the domain's per-device boot order (the disk stays the fallback after `Pxe`).
"""
import glob
import os
import shutil
import time
import uuid
from xml.sax.saxutils import quoteattr

from netlab import LabError, sh
from vm import VMNode, disk_serial

MOUNTS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt", "cache": "/var/cache/libvirt",
          "log": "/var/log/libvirt"}
LIBVIRTD_CONF = """# The lab's libvirtd (scripts/lab/libvirt_vm.py): root only, no authentication on its private socket.
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
"""
QEMU_CONF = """# qemu as root with no security driver, no cgroups (none is delegated here), no virtlogd.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
"""


def uri(lab):
    """The lab daemon's connection URI."""
    return f"qemu:///system?socket={os.path.join(lab, 'libvirt', 'run', 'libvirt-sock')}"


def virsh(lab, *args, check=True, capture=False):
    return sh("virsh", "-q", "-c", uri(lab), *args, check=check, capture=capture)


def system_uuid(name):
    """The node's libvirt domain (and Redfish system) UUID, stable per node name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rackswarm-lab:{name}"))


def start_daemon(lab, state, net):
    """Starts the lab's libvirtd in the core namespace and waits for its socket."""
    if not shutil.which("libvirtd") or not shutil.which("virsh"):
        raise LabError("Redfish VM nodes need libvirtd and virsh (apt-get install libvirt-daemon "
                       "libvirt-daemon-driver-qemu libvirt-clients)")
    base = os.path.join(lab, "libvirt")
    shutil.rmtree(base, ignore_errors=True)
    for part in MOUNTS:
        os.makedirs(os.path.join(base, part), mode=0o700)
    for target in MOUNTS.values():
        # Empty mount points, as libvirt-daemon-system would leave them; the host's own stay untouched.
        os.makedirs(target, exist_ok=True)
    with open(os.path.join(base, "etc", "libvirtd.conf"), "w") as file:
        file.write(LIBVIRTD_CONF)
    with open(os.path.join(base, "etc", "qemu.conf"), "w") as file:
        file.write(QEMU_CONF)
    for name, extra in (("passwd", "libvirt-qemu:x:64055:64055:libvirt:/var/lib/libvirt:/usr/sbin/nologin\n"),
                        ("group", "libvirt-qemu:x:64055:\n")):
        with open(f"/etc/{name}") as source, open(os.path.join(base, name), "w") as file:
            text = source.read()
            file.write(text if any(line.startswith("libvirt-qemu:") for line in text.splitlines()) else text + extra)
    mounts = [f"mount --bind {os.path.join(base, part)} {target}" for part, target in MOUNTS.items()]
    mounts += [f"mount --bind {os.path.join(base, name)} /etc/{name}" for name in ("passwd", "group")]
    script = "set -e; " + "; ".join(mounts) + (f"; exec libvirtd --config /etc/libvirt/libvirtd.conf "
                                               f"--pid-file {os.path.join(base, 'libvirtd.pid')}")
    proc = net.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                     os.path.join(base, "libvirtd.log"), namespace=state["core"])
    deadline = time.monotonic() + 30
    while virsh(lab, "version", check=False, capture=True).strip() == "":
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(os.path.join(base, "libvirtd.log"), errors="replace") as log:
                raise LabError(f"libvirtd did not start: {log.read()[-800:]}")
        time.sleep(0.2)
    state["libvirt"] = uri(lab)


def python_path(lab):
    """A directory with Debian's python3-libvirt modules (libvirt.py and its C module) and nothing else, for the
    venv's sushy-emulator: the same Python 3 minor version, without the rest of the system's site-packages."""
    directory = os.path.join(lab, "libvirt", "python")
    os.makedirs(directory, exist_ok=True)
    found = glob.glob("/usr/lib/python3/dist-packages/libvirt*.py")
    found += glob.glob("/usr/lib/python3/dist-packages/libvirtmod*.so")
    if not found:
        raise LabError("python3-libvirt is not installed (sushy-emulator's libvirt driver needs it)")
    for path in found:
        link = os.path.join(directory, os.path.basename(path))
        if not os.path.lexists(link):
            os.symlink(path, link)
    return directory


def domain_xml(name, node, machine, console):
    """The node's libvirt domain: see the module docstring."""
    kind = "kvm" if machine.get("accel") == "kvm" else "qemu"
    return f"""<domain type='{kind}'>
  <name>{name}</name>
  <uuid>{system_uuid(name)}</uuid>
  <memory unit='MiB'>{machine.get('memory', 1024)}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
    <boot dev='network'/>
    <bios useserial='yes' rebootTimeout='5000'/>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='maximum' check='none'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='unsafe' discard='unmap'/>
      <source file={quoteattr(machine['disk'])}/>
      <target dev='vda' bus='virtio'/>
      <serial>{disk_serial(name)}</serial>
    </disk>
    <interface type='ethernet'>
      <mac address='{node['mac']}'/>
      <target dev='{machine['tap']}' managed='no'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path={quoteattr(console)} append='on'/>
    </serial>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
"""


class LibvirtVMNode(VMNode):
    """vdc.py's "libvirt" node kind: a VMNode whose qemu is a libvirt domain (its BMC is sushy-emulator's libvirt
    driver); `vdc.py power` acts on the domain through virsh."""

    def create(self, net, state, index, node, directory, env):
        made = super().create(net, state, index, node, directory, env)
        name = env["NODE"]
        path = os.path.join(directory, "domain.xml")
        with open(path, "w") as file:
            file.write(domain_xml(name, node, made["vm"], os.path.join(directory, "console.log")))
        virsh(state["lab"], "define", path, capture=True)
        made["vm"]["domain"] = name
        return made

    def running_pid(self, lab, name, node):
        try:
            with open(os.path.join(lab, "libvirt", "run", "qemu", f"{name}.pid")) as file:
                pid = int(file.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                return pid if os.path.join(lab, "nodes", name).encode() in file.read() else None
        except (OSError, ValueError):
            return None

    def power_on(self, lab, name, node, boot=None):
        virsh(lab, "start", name, capture=True)

    def power_off(self, lab, name, node):
        if self.running_pid(lab, name, node) is not None:
            virsh(lab, "destroy", name, check=False, capture=True)

    def reset(self, lab, name, node):
        if self.running_pid(lab, name, node) is None:
            self.power_on(lab, name, node)
        else:
            virsh(lab, "reset", name, capture=True)
