#!/usr/bin/env bash
# `make demo`: a virtual data center on this machine, driven by the example repo, from a git commit to racks of
# running services. examples/datacenter (rack r1: four nodes behind IPMI BMCs; rack r2: four behind Redfish and
# iLO) is committed into a throw-away git repo; scripts/lab/vdc.py turns every node into a network namespace with
# a BMC, DHCP/TFTP from dnsmasq and a disk; `reconcile apply --every 10s` converges them: PXE, the install
# environment fetching the image by BitTorrent, local boot, then the VOD and WEB services with dnf. Then a second
# commit (WEB on two more nodes, a new image for rack r2) is previewed and converged, and a broken commit is
# refused with located diagnostics.
#
# The first DEMO_VMS nodes of rack r1 (default 1) are real machines: qemu VMs (TCG) with blank disks, driven by
# their IPMI BMC, that PXE-boot `make installer`'s install environment and install `make image`'s Debian 12 disk
# image (built first when missing): the example's debian-12 image, pinned to the SHA-256 of this machine's build in
# the demo's copy of the site and named by `url:`, so the reconciler's seed downloads it once. The namespace nodes
# boot no kernel: they install `lab-os`, a small image of random bytes the demo makes and pins.
#
# Variables: DEMO_VMS (default 1; 0 keeps every node a namespace), DEMO_NODES_PER_RACK (default 4; more nodes are
# added to both racks), DEMO_IMAGE_MIB (default 64, the namespace nodes' image), DEMO_KEEP=1 (leave the lab
# running; `make demo-down` removes it). Run as root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# DEMO_RECONCILE: another reconcile binary (e.g. the one a package installed), default the debug build.
bin=${DEMO_RECONCILE:-$root/.build/debug/reconcile}
# DEMO_AGENT: the provision-agent the namespace nodes run, default the debug build.
agent=${DEMO_AGENT:-$root/.build/debug/provision-agent}
work=${DEMO_DIR:-/tmp/rackswarm-demo}
per_rack=${DEMO_NODES_PER_RACK:-4}
image_mib=${DEMO_IMAGE_MIB:-64}
vms=${DEMO_VMS:-1}
os_image=$root/build/image/debian-12.img
python=/usr/bin/python3
vdc() { "$python" "$root/scripts/lab/vdc.py" "$@"; }
export GIT_AUTHOR_NAME="rackswarm demo" GIT_AUTHOR_EMAIL="demo@rackswarm.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL" GIT_CONFIG_GLOBAL=/dev/null
export RACKSWARM_BMC_R1_PASSWORD=demo-r1-secret

down() {
    if [ -s "$work/reconcile.pid" ]; then
        kill -TERM "$(cat "$work/reconcile.pid")" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$(cat "$work/reconcile.pid")" 2>/dev/null || break; sleep 0.2; done
    fi
    [ -d "$work/lab" ] && vdc down "$work/lab" > /dev/null 2>&1 || true
    rm -rf "$work"
}
if [ "${1:-}" = down ]; then
    down
    echo "demo: removed"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "demo: the virtual data center needs root (network namespaces)" >&2; exit 1; }
# Idempotent: whatever an earlier run left is removed first.
down
finish() {
    status=$?
    if [ "${DEMO_KEEP:-0}" = 1 ] && [ "$status" = 0 ]; then return; fi
    [ "$status" = 0 ] || { echo "demo: failed; the reconciler's log:"; tail -30 "$work/reconcile.log" 2>/dev/null; }
    down
}
trap finish EXIT
mkdir -p "$work/repo" "$work/http/boot" "$work/tftp/boot"
if [ "$vms" -gt 0 ] && { [ ! -s "$os_image" ] || [ ! -s build/installer/initramfs.img ]; }; then
    echo "== 0. The install environment and the OS image for the VM nodes (make installer image; minutes, once)"
    make installer image
fi

site=$work/repo/site
reconcile_in_lab() { vdc exec "$work/lab" -- "$bin" "$@"; }
source_options=(--repo "file://$work/repo" --path site --cache "$work/cache")

echo "== 1. The example site, committed to a git repo ($work/repo)"
cp -r examples/datacenter "$site"
# The demo's copy keeps its files in the demo directory. Its namespace nodes get lab-os, random bytes with their
# SHA-256 (they boot no kernel, and writing the Debian image to every namespace disk would only cost time).
head -c $((image_mib << 20)) /dev/urandom > "$site/images/lab-os.img"
cat > "$site/images/lab-os.yaml" <<IMAGE
# The demo's image for its namespace nodes: random bytes, spread by BitTorrent like any image.
apiVersion: rackswarm.io/v1
kind: Image
metadata:
  name: lab-os
spec:
  version: "1"
  file: images/lab-os.img
  sha256: "$(sha256sum "$site/images/lab-os.img" | cut -c1-64)"
  kernel: boot/vmlinuz
  initrd: boot/initrd.img
  kernelArgs: [console=ttyS0, quiet]
  pieceSize: 4MiB
  postInstall:
    - name: hostname
      run: mkdir -p "\$RACKSWARM_ROOT/etc" && echo "\$RACKSWARM_NODE" > "\$RACKSWARM_ROOT/etc/hostname"
IMAGE
sed -i 's/^  image: debian-12$/  image: lab-os/' "$site"/racks/*.yaml
sed -i "s|/srv/rackswarm/tftp|$work/tftp|; s|/srv/rackswarm/http|$work/http|; s|/etc/rackswarm/site.key|$work/site.key|; \
s|^  interval: .*|  interval: 10s|; s|^    install: .*|    install: $([ "$vms" -gt 0 ] && echo 10m || echo 3m)|" \
    "$site/site.yaml"
sed -i "s|/etc/rackswarm/bmc-r2.password|$work/bmc-r2.password|" "$site/racks/r2.yaml"
"$python" - "$site" "$per_rack" <<'PY'
import re, sys
site, per_rack = sys.argv[1], int(sys.argv[2])
for rack in ("r1", "r2"):
    path = f"{site}/racks/{rack}.yaml"
    text = open(path).read()
    documents = text.split("\n---\n")
    template = documents[-1]
    for n in range(5, per_rack + 1):
        node = re.sub(rf"{rack}n4", f"{rack}n{n}", template)
        node = re.sub(r'(52:54:00:77:0\d:)04', lambda m: f"{m.group(1)}{n:02x}", node)
        node = re.sub(r"(ip: 10\.77\.0\.)(\d)4", lambda m: f"{m.group(1)}{int(m.group(2)) * 10 + n + 100}", node)
        node = re.sub(r"(ipmi://127\.0\.0\.1:)9104", lambda m: f"{m.group(1)}{9100 + n}", node)
        documents.append(node)
    open(path, "w").write("\n---\n".join(documents))
PY
if [ "$vms" -eq 0 ]; then
    rm "$site/images/debian-12.yaml"
else
    # The VM nodes' image: the example's debian-12, pinned to this machine's make image build, by URL (downloaded once into the seed, then spread by
    # BitTorrent), installed by make installer's kernel and initramfs, which both loaders fetch.
    for boot in "$work/http" "$work/tftp"; do
        mkdir -p "$boot/installer"
        cp build/installer/vmlinuz build/installer/initramfs.img "$boot/installer/"
    done
    "$python" - "$site" "$vms" "$os_image" "$(sha256sum "$os_image" | cut -c1-64)" <<'PY'
import sys
site, vms, image, sha = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
template = open("scripts/lab/vm-image.yaml").read()
fields = {"name": "debian-12", "version": "12", "source": f"url: file://{image}", "sha256": sha}
for key, value in fields.items():
    template = template.replace("{{" + key + "}}", value)
open(f"{site}/images/debian-12.yaml", "w").write(template)
path = f"{site}/racks/r1.yaml"
documents = open(path).read().split("\n---\n")
for i, doc in enumerate(documents):
    for n in range(1, vms + 1):
        if f"name: r1n{n}\n" in doc:
            documents[i] = doc.replace("image: lab-os", "image: debian-12")
open(path, "w").write("\n---\n".join(documents))
PY
fi
printf 'demo-r2-secret\n' > "$work/bmc-r2.password"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/site.key"
echo >> "$work/site.key"
for boot in "$work/http/boot" "$work/tftp/boot"; do
    echo "demo kernel" > "$boot/vmlinuz"
    echo "demo initrd" > "$boot/initrd.img"
done
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" commit -q -m "dc1: two racks, VOD and WEB services"
git -C "$work/repo" log --oneline
"$bin" validate "$site"

echo
echo "== 2. Preview every physical action: reconcile plan (exit 2: changes pending)"
set +e
"$bin" plan "${source_options[@]}" --state "$work/state.db"
status=$?
set -e
[ "$status" -eq 2 ] || { echo "demo: expected exit 2 from the dry run, got $status" >&2; exit 1; }

echo
echo "== 3. The virtual data center: a namespace, a BMC, DHCP/TFTP and a disk per node"
vm_nodes=()
for n in $(seq 1 "$vms"); do vm_nodes+=(--vm "r1n$n"); done
vdc up --site "$site" --lab "$work/lab" --reconciler-bin "$bin" --agent-bin "$agent" --report-to 10.77.0.1:7701 \
    "${vm_nodes[@]}"

echo
echo "== 4. reconcile apply --every 10s, until every node is ready"
started=$(date +%s)
# In the lab's core namespace, where the nodes' network and the BMCs are; its own session, so the demo's
# terminal signals stay ours.
setsid "$python" "$root/scripts/lab/vdc.py" exec "$work/lab" -- "$bin" apply "${source_options[@]}" \
    --state "$work/state.db" --every 10s --dnsmasq-pid-file "$work/lab/dnsmasq.pid" --backoff 1s \
    --heartbeat-listen 10.77.0.1:7701 --console-listen 10.77.0.1:8090 \
    > "$work/reconcile.log" 2>&1 < /dev/null &
echo $! > "$work/reconcile.pid"
cat > "$work/progress.py" <<'PY'
import collections, json, sys
nodes = json.load(sys.stdin)["nodes"]
done = [n for n in nodes if n["phase"] == "ready" and n["image"] == n["wantedImage"] and not n.get("drifted")]
phases = collections.Counter(n["phase"] for n in nodes)
downloads = " ".join("%s:%d%%" % (n["node"], n["percent"]) for n in nodes if n.get("percent") is not None)
print("  " + ", ".join("%d %s" % (count, phase) for phase, count in sorted(phases.items()))
      + ("  (downloading %s)" % downloads if downloads else ""))
sys.exit(0 if nodes and len(done) == len(nodes) else 1)
PY
# Waits until the state database says every node is ready with what the repo wants, one progress line per check.
converge() {
    local deadline=$(( $(date +%s) + ${1:-900} ))
    while :; do
        json=$("$bin" status "${source_options[@]}" --state "$work/state.db" --output json 2>/dev/null || true)
        # One line per check: how many nodes are in each phase (downloads with their percent).
        if [ -n "$json" ] && printf '%s' "$json" | "$python" "$work/progress.py"; then
            return 0
        fi
        [ "$(date +%s)" -lt "$deadline" ] || { echo "demo: the site did not converge in time" >&2; return 1; }
        kill -0 "$(cat "$work/reconcile.pid")" 2>/dev/null || { echo "demo: reconcile stopped" >&2; return 1; }
        sleep 3
    done
}
converge
echo "converged in $(( $(date +%s) - started )) s"
"$bin" status "${source_options[@]}" --state "$work/state.db"

echo
echo "== 5. A second commit: WEB on r1n3 and r2n1, and a new image for rack r2"
cp "$site/images/lab-os.yaml" "$site/images/lab-os-r2.yaml"
sed -i 's/^  name: lab-os$/  name: lab-os-r2/; s/^  version: .*/  version: "2"/' "$site/images/lab-os-r2.yaml"
sed -i 's/^  image: lab-os$/  image: lab-os-r2/' "$site/racks/r2.yaml"
"$python" - "$site" <<'PY'
import sys
site = sys.argv[1]
for rack, node in (("r1", "r1n3"), ("r2", "r2n1")):
    path = f"{site}/racks/{rack}.yaml"
    documents = open(path).read().split("\n---\n")
    for i, doc in enumerate(documents):
        if f"name: {node}\n" in doc:
            documents[i] = doc.replace("services: [vod]", "services: [vod, web]")
    open(path, "w").write("\n---\n".join(documents))
PY
git -C "$work/repo" add -A
git -C "$work/repo" commit -q -m "WEB on r1n3 and r2n1; rack r2 moves to lab-os-r2 2"
git -C "$work/repo" log --oneline -1
echo "-- the preview against what the reconciler observed:"
set +e
"$bin" plan "${source_options[@]}" --state "$work/state.db" | grep -v '^          '
set -e
started=$(date +%s)
converge
echo "reconverged in $(( $(date +%s) - started )) s"
"$bin" status "${source_options[@]}" --state "$work/state.db"

echo
echo "== 6. A broken commit is refused before anything is touched"
sed -i 's/^  mac: "52:54:00:77:01:03"/  macc: "52:54:00:77:01:03"/' "$site/racks/r1.yaml"
git -C "$work/repo" commit -q -am "r1: typo"
set +e
"$bin" plan "${source_options[@]}" --state "$work/state.db" > /dev/null
status=$?
set -e
[ "$status" -eq 1 ] || { echo "demo: expected the broken commit to be refused, got $status" >&2; exit 1; }
echo "(exit status 1: no plan was made; the running loop logs the same diagnostics and applies nothing)"

echo
echo "== 7. Where to look"
echo "metrics (from the reconciler's server, in the lab's core namespace):"
vdc exec "$work/lab" -- curl -s http://10.77.0.1:8090/metrics | grep -E '^rackswarm_(nodes|actions_total|seed|peer)' \
    | head -20
cat <<EOF
console:          $python scripts/lab/vdc.py exec $work/lab -- curl http://10.77.0.1:8090/console
reconciler log:   $work/reconcile.log
node consoles:    $work/lab/nodes/NODE/console.log  (VM nodes: SeaBIOS, iPXE, the installer, Debian)
state database:   $work/state.db  (reconcile status --repo file://$work/repo --path site --state $work/state.db)
EOF
if [ "${DEMO_KEEP:-0}" = 1 ]; then
    echo "The lab keeps running (DEMO_KEEP=1); remove it with: make demo-down"
else
    echo "Tearing the lab down (DEMO_KEEP=1 keeps it; make demo-down removes a kept one)."
fi
