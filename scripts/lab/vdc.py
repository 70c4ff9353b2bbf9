#!/usr/bin/env python3
"""The virtual data center: a site's nodes as network namespaces on one bridge, each with a real BMC, a sparse
disk, a root directory and a "firmware" that PXE-boots it into `provision-agent install` and then `serve`.

  vdc.py up --site DIR --lab LABDIR [--reconciler-bin PATH] [--agent-bin PATH] [--disk-size SIZE] [--key-file F]
  vdc.py exec LABDIR -- CMD...        run CMD in the core namespace (where the reconciler runs)
  vdc.py power LABDIR NODE on|off|reset|status
  vdc.py status LABDIR [--json]
  vdc.py down LABDIR                  idempotent; also what `up` runs first on a lab left behind

What `up` builds (names derive from a hash of LABDIR, so two labs never share one; a host-wide lock guards every
namespace change):
  - core namespace `rv<hash>c`: bridge br0 holding the site's serverAddress/prefix, every IPMI BMC (ipmi_sim via
    scripts/lab/ipmi-bmc.sh, on the BMC URL's host:port, 127.0.0.1 being the core namespace's own loopback), and
    dnsmasq (DHCP + TFTP) from `reconcile boot dnsmasq-config`;
  - one namespace per node `rv<hash>n<i>`, its eth0 a veth into br0 with the node's MAC;
  - LABDIR/nodes/NODE/{disk (sparse), root/, console.log, node.env};
  - the services' RPMs (scripts/lab/make-service-repo.sh) in LABDIR/rpms/repo, copied to HTTPROOT/repo when the
    site's HTTP root has no `repo` of its own.
A BMC's chassis hook powers its node: on starts scripts/lab/node-firmware.sh in the node's namespace (own process
group, descriptors closed); off kills every process in that namespace; reset does both. Redfish and iLO nodes get
one sushy-emulator (fake driver) per BMC host:port in the core namespace, HTTPS with a self-signed certificate
unless redfish+http, and a `redfish-watch` process that starts and stops their firmware as PowerState changes.
Needs root, iproute2, ipmi_sim, dnsmasq, busybox, curl, rpmbuild, createrepo_c, openssl; sushy-tools in the venv.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from netlab import (HostLock, LabError, Network, kill_group, kill_namespace_processes, process_mentions,  # noqa: E402
                    sh, spawn)
import libvirt_vm  # noqa: E402
import vm  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
STATE = "lab.json"
DEFAULT_BMC_PASSWORD = "lab-pass"
BT_PORT = 6881
# Where `redfish-watch` hears the fake driver's notifications (a core-namespace loopback address no BMC uses).
NOTIFY_HOST, NOTIFY_PORT = "127.0.0.254", 7999


def size_bytes(text):
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.lower().removesuffix("ib").removesuffix("b")
    unit = text[-1] if text and text[-1] in "kmg" else ""
    return int(text[:-1] if unit else text) * units[unit]


def prefix_for(lab):
    return "rv" + hashlib.sha1(os.path.realpath(lab).encode()).hexdigest()[:6]


def load_state(lab):
    path = os.path.join(lab, STATE)
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return json.load(file)


def save_state(lab, state):
    path = os.path.join(lab, STATE)
    with open(path + ".tmp", "w") as file:
        json.dump(state, file, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def resolve_password(reference):
    """A BMC password from `env:NAME` or `file:PATH` as the reconciler will read it; the lab default otherwise."""
    if reference and reference.startswith("env:") and os.environ.get(reference[4:]):
        return os.environ[reference[4:]], reference
    if reference and reference.startswith("file:") and os.path.exists(reference[5:]):
        with open(reference[5:]) as file:
            return file.read().rstrip("\n"), reference
    return DEFAULT_BMC_PASSWORD, None


def wait_udp_port(ns, host, port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = sh("ip", "netns", "exec", ns, "ss", "-H", "-uln", f"sport = :{port}", check=False, capture=True)
        if out.strip():
            return
        time.sleep(0.05)
    raise LabError(f"nothing listens on udp {host}:{port} in {ns} after {timeout} s")


# MARK: up


def up(args):
    lab = os.path.abspath(args.lab)
    site = os.path.abspath(args.site)
    reconcile = os.path.abspath(args.reconciler_bin or os.path.join(REPO_ROOT, ".build/debug/reconcile"))
    agent = os.path.abspath(args.agent_bin or os.path.join(REPO_ROOT, ".build/debug/provision-agent"))
    for binary in (reconcile, agent):
        if not os.access(binary, os.X_OK):
            raise LabError(f"{binary} is not an executable (build it first: swift build)")
    os.makedirs(lab, exist_ok=True)
    with HostLock():
        teardown(lab)
        inventory = json.loads(sh(reconcile, "dev", "lab-inventory", site, capture=True))
        prefix = prefix_for(lab)
        state = {"prefix": prefix, "site": site, "lab": lab, "reconcile": reconcile, "agent": agent,
                 "core": prefix + "c", "namespaces": [], "pids": [], "nodes": {}, "links": []}
        save_state(lab, state)
        net = Network(prefix, record=state, on_change=lambda: save_state(lab, state), owner=lab)
        try:
            build(lab, site, inventory, state, net, args)
        except BaseException:
            teardown(lab, net)
            raise
    print(f"lab up: {len(state['nodes'])} nodes, core namespace {state['core']} "
          f"({inventory['network']['serverAddress']}); logs in {lab}/nodes/NODE/console.log")


class NamespaceNode:
    """A node that is a network namespace on the lab bridge, its eth0 a veth into br0 with the node's MAC. Power on
    runs scripts/lab/node-firmware.sh there (PXE, install, then a local boot into the agent); power off kills every
    process in the namespace. Another kind of node (a VM, say) is a class with the same methods, an entry in
    NODE_KINDS, and a choice in `kind_for`."""

    def create(self, net, state, index, node, directory, env):
        """Makes the node's namespace and link; returns what `state["nodes"][NAME]` records about it."""
        namespace = net.add_namespace(f"{state['prefix']}n{index}")
        net.add_veth(state["core"], f"v{index}", namespace, "eth0", bridge="br0", mac=node["mac"])
        with open(os.path.join(directory, "node.env"), "w") as file:
            for key, value in env.items():
                file.write(f"{key}='{value}'\n")
        return {"namespace": namespace}

    def running_pid(self, lab, name, node):
        """The pid of the node's firmware (or what it exec'd into after a local boot: the agent, whose root is in
        the node's directory), or None when the node is off."""
        directory = os.path.join(lab, "nodes", name)
        try:
            with open(os.path.join(directory, "firmware.pid")) as file:
                pid = int(file.read().strip())
        except (OSError, ValueError):
            return None
        ours = process_mentions(pid, "node-firmware.sh", lab) or process_mentions(pid, directory + "/")
        return pid if ours else None

    def power_on(self, lab, name, node):
        spawn(["bash", os.path.join(HERE, "node-firmware.sh"), lab, name], namespace=node["namespace"])
        # The firmware writes its pid first thing: wait for it, so a second request cannot start a second firmware.
        deadline = time.monotonic() + 5
        while self.running_pid(lab, name, node) is None and time.monotonic() < deadline:
            time.sleep(0.02)

    def power_off(self, lab, name, node):
        pid = self.running_pid(lab, name, node)
        if pid:
            kill_group(pid)
        # Everything the node started (its agent, the services' daemons) lives in its namespace.
        kill_namespace_processes(node["namespace"])
        sh("ip", "-n", node["namespace"], "addr", "flush", "dev", "eth0", check=False)
        try:
            os.unlink(os.path.join(lab, "nodes", name, "firmware.pid"))
        except FileNotFoundError:
            pass


NODE_KINDS = {"namespace": NamespaceNode(), "vm": vm.VMNode(), "libvirt": libvirt_vm.LibvirtVMNode()}


def kind_for(node):
    """The kind of machine that plays a node of the inventory."""
    return "namespace"


def node_kind(node):
    """The kind object of a node recorded in the lab's state."""
    return NODE_KINDS[node.get("kind", "namespace")]


def build(lab, site, inventory, state, net, args):
    network = inventory["network"]
    core = net.add_namespace(state["core"])
    net.add_bridge(core, "br0", f"{network['serverAddress']}/{network['prefixLength']}")

    key_file = args.key_file or network["agentKeyFile"]
    if not os.path.exists(key_file):
        key_file = os.path.join(lab, "site.key")
        with open(key_file, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
        os.chmod(key_file, 0o600)
    state["keyFile"] = key_file

    disk_size = size_bytes(args.disk_size)
    vms = vm.vm_nodes(inventory, args.vm, args.vms)
    NODE_KINDS["vm"] = vm.VMNode(size_bytes(args.vm_disk_size), args.vm_memory, args.accel)
    NODE_KINDS["libvirt"] = libvirt_vm.LibvirtVMNode(size_bytes(args.vm_disk_size), args.vm_memory, args.accel)
    if "libvirt" in vms.values():
        libvirt_vm.start_daemon(lab, state, net)
        save_state(lab, state)
    for index, node in enumerate(inventory["nodes"], start=1):
        name = node["name"]
        directory = os.path.join(lab, "nodes", name)
        # A new lab starts from blank machines: an empty disk and root, a new console log.
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(os.path.join(directory, "root"), exist_ok=True)
        os.makedirs(os.path.join(directory, "boot"), exist_ok=True)
        disk = os.path.join(directory, "disk")
        with open(disk, "wb") as file:
            file.truncate(disk_size)
        open(os.path.join(directory, "console.log"), "a").close()
        env = {"NODE": name, "MAC": node["mac"], "IFACE": "eth0", "DISK": disk,
               "ROOT": os.path.join(directory, "root"), "AGENT": state["agent"],
               "AGENT_PORT": str(network["agentPort"]), "KEY_FILE": key_file, "BT_PORT": str(BT_PORT)}
        if args.seed_for:
            env["SEED_FOR"] = args.seed_for
        if args.report_to:
            env["REPORT_TO"] = args.report_to
        kind = vms.get(name) or kind_for(node)
        made = NODE_KINDS[kind].create(net, state, index, node, directory, env)
        state["nodes"][name] = {"kind": kind, "rack": node["rack"], "mac": node["mac"], "ip": node["ip"],
                                "bmc": node["bmc"]["url"], "scheme": node["bmc"]["scheme"], "emulated": False, **made}
        save_state(lab, state)

    redfish = {}
    for name, node in zip(state["nodes"], inventory["nodes"]):
        bmc = node["bmc"]
        if bmc["scheme"] == "ipmi":
            start_ipmi_bmc(lab, state, net, name, bmc)
        else:
            redfish.setdefault((bmc["scheme"], bmc["host"], bmc["port"]), []).append((name, node))
    save_state(lab, state)
    for (scheme, host, port), members in sorted(redfish.items()):
        start_redfish_bmc(lab, state, net, scheme, host, port, members, args.python)
    if any(state["nodes"][name]["kind"] == "namespace" for members in redfish.values() for name, _ in members):
        net.spawn([sys.executable, os.path.abspath(__file__), "redfish-watch", lab],
                  os.path.join(lab, "redfish-watch.log"), namespace=core)
    save_state(lab, state)

    start_dnsmasq(lab, site, network, state, net)
    if vms:
        vm.install_pxelinux(network["tftpRoot"], net)
    build_repository(network, state, net)
    save_state(lab, state)


def start_ipmi_bmc(lab, state, net, name, bmc):
    core = state["core"]
    host, port = bmc["host"], bmc["port"]
    if not host.startswith("127."):
        net.add_address(core, f"{host}/32")
    directory = os.path.join(lab, "bmc", name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    hook = os.path.join(directory, "on-power")
    with open(hook, "w") as file:
        file.write("#!/bin/sh\n# Called by the chassis hook: on | off | reset.\n"
                   f"exec {sys.executable} {os.path.abspath(__file__)} power {lab} {name} \"$1\" "
                   ">/dev/null 2>&1 </dev/null\n")
    os.chmod(hook, 0o755)
    if state["nodes"][name].get("kind") == "vm":
        # The BMC reads a VM that powered itself off (an erase ends with poweroff) as off.
        node_dir = os.path.join(lab, "nodes", name)
        alive = os.path.join(directory, "alive")
        with open(alive, "w") as file:
            file.write("#!/bin/sh\n# Exit 0 while the node's qemu runs.\n"
                       f"pid=$(cat {node_dir}/qemu.pid 2>/dev/null) || exit 1\n"
                       f"tr '\\0' ' ' 2>/dev/null < /proc/$pid/cmdline | grep -qF {node_dir}/\n")
        os.chmod(alive, 0o755)
    password, reference = resolve_password(bmc.get("password"))
    if reference is None:
        print(f"vdc: {name}: BMC password {bmc.get('password')} is not set here; the BMC uses "
              f"'{DEFAULT_BMC_PASSWORD}'", file=sys.stderr)
    out = sh("ip", "netns", "exec", core, "bash", os.path.join(HERE, "ipmi-bmc.sh"), directory, str(port), password,
             capture=True)
    net.record_pid(int(out.strip().splitlines()[-1]))
    wait_udp_port(core, host, port)
    state["nodes"][name]["emulated"] = True
    state["nodes"][name]["bmcDir"] = directory


def start_redfish_bmc(lab, state, net, scheme, host, port, members, python):
    """One sushy-emulator for every Redfish/iLO node behind host:port, HTTPS with a self-signed certificate unless
    the scheme is redfish+http: its fake driver (`redfish-watch` turns its power states into firmware runs), or its
    libvirt driver on the lab's libvirtd when the nodes are VMs (all of them: one emulator has one driver)."""
    core = state["core"]
    kinds = {state["nodes"][name]["kind"] for name, _ in members}
    if len(kinds) > 1:
        raise LabError(f"Redfish BMC {host}:{port} serves VM and namespace nodes "
                       f"({', '.join(name for name, _ in members)}): make all of them VMs or none")
    on_libvirt = kinds == {"libvirt"}
    if not host.startswith("127."):
        net.add_address(core, f"{host}/32")
    directory = os.path.join(lab, "redfish", f"{host}-{port}")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    bmc = members[0][1]["bmc"]
    password, reference = resolve_password(bmc.get("password"))
    if reference is None:
        print(f"vdc: Redfish BMC {host}:{port}: password {bmc.get('password')} is not set here; the BMC uses "
              f"'{DEFAULT_BMC_PASSWORD}'", file=sys.stderr)
    htpasswd = os.path.join(directory, "htpasswd")
    sh(python, "-c", "import bcrypt,sys;open(sys.argv[1],'w').write(sys.argv[2]+':'+bcrypt.hashpw("
       "sys.argv[3].encode(),bcrypt.gensalt(rounds=4)).decode()+'\\n')", htpasswd, bmc.get("username") or "admin",
       password)
    systems = []
    for name, node in members:
        system = libvirt_vm.system_uuid(name)
        systems.append({"uuid": system, "name": name, "power_state": "Off", "external_notifier": not on_libvirt,
                        "nics": [{"mac": node["mac"], "ip": node["ip"]}]})
        state["nodes"][name].update({"emulated": True, "redfishSystem": system})
    tls = scheme != "redfish+http"
    config = [f"SUSHY_EMULATOR_LISTEN_IP = '{host}'", f"SUSHY_EMULATOR_LISTEN_PORT = {port}",
              f"SUSHY_EMULATOR_AUTH_FILE = '{htpasswd}'"]
    environment = [f"TMPDIR={directory}"]
    if on_libvirt:
        # Its systems are the lab daemon's domains, by name (the node's) and UUID (system_uuid).
        config += [f"SUSHY_EMULATOR_LIBVIRT_URI = '{libvirt_vm.uri(lab)}'",
                   f"SUSHY_EMULATOR_ALLOWED_INSTANCES = {[s[key] for s in systems for key in ('name', 'uuid')]!r}"]
        environment.append(f"PYTHONPATH={libvirt_vm.python_path(lab)}")
    else:
        config += ["SUSHY_EMULATOR_FAKE_DRIVER = True", f"SUSHY_EMULATOR_FAKE_SYSTEMS = {systems!r}",
                   f"EXTERNAL_NOTIFICATION_URL = 'http://{NOTIFY_HOST}:{NOTIFY_PORT}/'"]
    if tls:
        cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30",
           "-subj", f"/CN={host}")
        config += [f"SUSHY_EMULATOR_SSL_CERT = '{cert}'", f"SUSHY_EMULATOR_SSL_KEY = '{key}'"]
    conf = os.path.join(directory, "emulator.conf")
    with open(conf, "w") as file:
        file.write("\n".join(config) + "\n")
    emulator = os.path.join(os.path.dirname(python), "sushy-emulator")
    # The fake driver keeps its systems in a database under TMPDIR: one directory per emulator.
    proc = net.spawn(["env", *environment, emulator, "--config", conf], os.path.join(directory, "sushy.log"),
                     namespace=core)
    base = f"{'https' if tls else 'http'}://{host}:{port}"
    state.setdefault("redfish", []).append({"base": base, "username": bmc.get("username") or "admin",
                                            "password": password, "nodes": [name for name, _ in members]})
    save_state(lab, state)
    deadline = time.monotonic() + 30
    probe = ["ip", "netns", "exec", core, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
             base + "/redfish/v1/"]
    while sh(*probe, check=False, capture=True).strip() != "200":
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"sushy-emulator on {base} did not start: "
                           + open(os.path.join(directory, "sushy.log")).read()[-600:])
        time.sleep(0.2)


def restart_listener(lab):
    """Hears the fake driver's change notifications (a PUT of the system's record on each change) and restarts a
    node's firmware when a `ForceRestart`/`GracefulRestart` is pending: PowerState alone can miss one, since the
    driver reads `Off` for well under a second before it is `On` again."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()
            try:
                system = json.loads(body)
            except ValueError:
                return
            pending = system.get("pending_power") or {}
            if "Restart" not in str(pending.get("power_state")):
                return
            state = load_state(lab) or {}
            node = state.get("nodes", {}).get(system.get("name"))
            if node and node.get("kind") == "namespace":
                print(f"{system['name']}: {pending['power_state']}: restarting its firmware", flush=True)
                threading.Thread(target=lambda: (power_off(lab, system["name"], node),
                                                 power_on(lab, system["name"], node)), daemon=True).start()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((NOTIFY_HOST, NOTIFY_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def redfish_watch(args):
    """Runs in the core namespace: polls every emulated Redfish system's PowerState and starts or stops the
    node's firmware to match (the fake driver applies changes 1–11 s after the request, like a real BMC), and
    restarts it on a restart the driver notifies (`restart_listener`)."""
    lab = os.path.abspath(args.lab)
    restart_listener(lab)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    while True:
        state = load_state(lab)
        if not state:
            return
        for bmc in state.get("redfish", []):
            token = base64.b64encode(f"{bmc['username']}:{bmc['password']}".encode()).decode()
            for name in bmc["nodes"]:
                node = state["nodes"][name]
                if node["kind"] != "namespace":
                    continue  # sushy's libvirt driver powers a VM itself
                request = urllib.request.Request(f"{bmc['base']}/redfish/v1/Systems/{node['redfishSystem']}",
                                                 headers={"Authorization": f"Basic {token}"})
                try:
                    with urllib.request.urlopen(request, timeout=5, context=context) as response:
                        wanted = json.load(response).get("PowerState") == "On"
                except (OSError, ValueError, urllib.error.URLError) as error:
                    print(f"{name}: {error}", flush=True)
                    continue
                running = node_kind(node).running_pid(lab, name, node) is not None
                if wanted and not running:
                    print(f"{name}: PowerState On: starting its firmware", flush=True)
                    power_on(lab, name, node)
                elif running and not wanted:
                    print(f"{name}: PowerState Off: stopping it", flush=True)
                    power_off(lab, name, node)
        time.sleep(0.5)


def start_dnsmasq(lab, site, network, state, net):
    core = state["core"]
    for directory in (network["tftpRoot"], network["httpRoot"]):
        os.makedirs(directory, exist_ok=True)
    conf = os.path.join(lab, "dnsmasq.conf")
    text = sh(state["reconcile"], "boot", "dnsmasq-config", "--repo", site, capture=True)
    with open(conf, "w") as file:
        file.write(text)
    hosts = next((line.split("=", 1)[1] for line in text.splitlines() if line.startswith("dhcp-hostsfile=")), None)
    if hosts and not os.path.exists(hosts):
        os.makedirs(os.path.dirname(hosts), exist_ok=True)
        open(hosts, "a").close()
    pid_file = os.path.join(lab, "dnsmasq.pid")
    # In the foreground dnsmasq writes no pid file: the lab writes it (`reconcile boot sync --dnsmasq-pid-file`
    # signals that pid after rewriting the hosts file). `ip netns exec` execs dnsmasq, so the pid is dnsmasq's.
    proc = net.spawn(["dnsmasq", "--no-daemon", "-C", conf, "--port=0", "--interface=br0", "--bind-interfaces",
                      f"--dhcp-leasefile={os.path.join(lab, 'dnsmasq.leases')}", "--user=root", "--log-dhcp",
                      f"--log-facility={os.path.join(lab, 'dnsmasq.log')}"],
                     os.path.join(lab, "dnsmasq.out"), namespace=core)
    state["dnsmasqPidFile"] = pid_file
    state["dnsmasqHosts"] = hosts
    with open(pid_file, "w") as file:
        file.write(f"{proc.pid}\n")
    deadline = time.monotonic() + 10
    while not sh("ip", "netns", "exec", core, "ss", "-H", "-uln", "sport = :67", check=False, capture=True).strip():
        if proc.poll() is not None:
            raise LabError(f"dnsmasq exited {proc.returncode}: " + open(os.path.join(lab, "dnsmasq.out")).read())
        if time.monotonic() > deadline:
            raise LabError("dnsmasq does not listen on DHCP (udp 67) after 10 s")
        time.sleep(0.05)


def build_repository(network, state, net):
    out = os.path.join(state["lab"], "rpms")
    sh("bash", os.path.join(HERE, "make-service-repo.sh"), out)
    repo = os.path.join(out, "repo")
    state["repository"] = repo
    # A copy, not a link: the boot server serves nothing that resolves outside its HTTP root.
    served = os.path.join(network["httpRoot"], "repo")
    if not os.path.lexists(served):
        shutil.copytree(repo, served)


# MARK: power


def power(args):
    lab = os.path.abspath(args.lab)
    state = load_state(lab)
    if not state or args.node not in state["nodes"]:
        raise LabError(f"no node {args.node} in lab {lab}")
    node = state["nodes"][args.node]
    if args.action == "reset" and hasattr(node_kind(node), "reset"):
        record_bmc_power(node, True)
        node_kind(node).reset(lab, args.node, node)
        return
    if args.action in ("off", "reset"):
        power_off(lab, args.node, node)
    if args.action in ("on", "reset"):
        power_on(lab, args.node, node)
    if args.action == "status":
        print("on" if node_kind(node).running_pid(lab, args.node, node) else "off")


def record_bmc_power(node, on):
    """Keeps an IPMI BMC's `get power` true when the node is switched by `vdc.py power` rather than the BMC."""
    if node.get("bmcDir"):
        with open(os.path.join(node["bmcDir"], "power"), "w") as file:
            file.write("1\n" if on else "0\n")


def console_note(lab, name, text):
    with open(os.path.join(lab, "nodes", name, "console.log"), "a") as log:
        log.write(f"{time.strftime('%H:%M:%S', time.gmtime())} {text}\n")


def power_on(lab, name, node):
    record_bmc_power(node, True)
    kind = node_kind(node)
    if kind.running_pid(lab, name, node) is not None:
        return
    console_note(lab, name, "power: on")
    kind.power_on(lab, name, node)


def power_off(lab, name, node):
    record_bmc_power(node, False)
    node_kind(node).power_off(lab, name, node)
    console_note(lab, name, "power: off")


# MARK: status, exec, down


def node_status(lab, name, node):
    directory = os.path.join(lab, "nodes", name)
    phase = "off"
    try:
        with open(os.path.join(directory, "console.log"), errors="replace") as log:
            for line in log:
                if "firmware: phase=" in line:
                    phase = line.split("firmware: phase=", 1)[1].split()[0]
                elif "power: off" in line:
                    phase = "off"
    except FileNotFoundError:
        pass
    if hasattr(node_kind(node), "phase"):
        phase = node_kind(node).phase(lab, name, node)
    disk = os.path.join(directory, "disk")
    written = os.stat(disk).st_blocks * 512 if os.path.exists(disk) else 0
    power_state = "on" if node_kind(node).running_pid(lab, name, node) else "off"
    bmc_power = None
    if node.get("bmcDir"):
        try:
            bmc_power = "on" if open(os.path.join(node["bmcDir"], "power")).read().strip() == "1" else "off"
        except OSError:
            pass
    return {"node": name, "rack": node["rack"], "ip": node["ip"], "power": power_state, "bmcPower": bmc_power,
            "phase": phase, "diskBytesWritten": written, "bmc": node["bmc"], "bmcEmulated": node["emulated"]}


def status(args):
    lab = os.path.abspath(args.lab)
    state = load_state(lab)
    if not state:
        print(f"no lab in {lab}")
        return
    rows = [node_status(lab, name, node) for name, node in state["nodes"].items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'NODE':<10} {'RACK':<6} {'POWER':<6} {'PHASE':<14} {'DISK WRITTEN':>13}  BMC")
    for row in rows:
        bmc = row["bmc"] + ("" if row["bmcEmulated"] else " (not emulated)")
        print(f"{row['node']:<10} {row['rack']:<6} {row['power']:<6} {row['phase']:<14} "
              f"{row['diskBytesWritten']:>13}  {bmc}")


def exec_core(args):
    lab = os.path.abspath(args.lab)
    state = load_state(lab)
    if not state:
        raise LabError(f"no lab in {lab} (vdc.py up first)")
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LabError("exec needs a command after --")
    os.execvp("ip", ["ip", "netns", "exec", state["core"]] + command)


def teardown(lab, net=None):
    """Kills every process of the lab and deletes its namespaces and links; safe to run any number of times."""
    state = load_state(lab)
    # A pid `up` recorded counts only while its command line still names this lab; every daemon of the lab runs in
    # its core namespace anyway, which goes last, after the nodes' (and any of this lab's prefix a run killed
    # before it could record it).
    net = net or Network(prefix_for(lab), record=state or {}, owner=lab)
    net.on_change = lambda: None
    net.teardown()
    if state:
        for name in state.get("nodes", {}):
            try:
                os.unlink(os.path.join(lab, "nodes", name, "firmware.pid"))
            except FileNotFoundError:
                pass
        os.unlink(os.path.join(lab, STATE))


def down(args):
    lab = os.path.abspath(args.lab)
    with HostLock():
        teardown(lab)
    print(f"lab down: {lab}")


def main():
    parser = argparse.ArgumentParser(description="The virtual data center (see the module docstring).")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up")
    p.add_argument("--site", required=True)
    p.add_argument("--lab", required=True)
    p.add_argument("--reconciler-bin")
    p.add_argument("--agent-bin")
    p.add_argument("--disk-size", default="1G", help="each node's sparse disk")
    p.add_argument("--vm", action="append", metavar="NODE", help="make this IPMI node a qemu VM (repeatable)")
    p.add_argument("--vms", type=int, default=0, help="make the first N IPMI nodes qemu VMs")
    p.add_argument("--vm-disk-size", default="2G", help="each VM's blank virtio disk")
    p.add_argument("--vm-memory", type=int, default=1024, help="MiB of memory per VM")
    p.add_argument("--accel", default="tcg", choices=["tcg", "kvm"],
                   help="qemu accelerator (KVM guests hang on the development machines: TCG by default)")
    p.add_argument("--key-file", help="site key for the nodes' agents (default: the site's agent.keyFile, or a "
                   "new LABDIR/site.key when that does not exist)")
    p.add_argument("--seed-for", help="nodes keep seeding this long after writing their image (e.g. 30s)")
    p.add_argument("--report-to", help="HOST:PORT the nodes' agents send heartbeats to")
    p.add_argument("--python",
                   default=os.environ.get("RACKSWARM_PYTHON") or os.path.join(REPO_ROOT, ".venv/bin/python"),
                   help="the venv Python with sushy-tools and bcrypt (Redfish BMCs)")
    p.set_defaults(func=up)
    p = commands.add_parser("redfish-watch")
    p.add_argument("lab")
    p.set_defaults(func=redfish_watch)
    p = commands.add_parser("down")
    p.add_argument("lab")
    p.set_defaults(func=down)
    p = commands.add_parser("status")
    p.add_argument("lab")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)
    p = commands.add_parser("power")
    p.add_argument("lab")
    p.add_argument("node")
    p.add_argument("action", choices=["on", "off", "reset", "status"])
    p.set_defaults(func=power)
    p = commands.add_parser("exec")
    p.add_argument("lab")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=exec_core)
    args = parser.parse_args()
    try:
        args.func(args)
    except LabError as error:
        print(f"vdc: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
