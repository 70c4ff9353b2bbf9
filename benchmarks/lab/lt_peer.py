"""A libtorrent 2.x peer for the distribution lab: `seed` or `leech` one torrent inside a network namespace.

Usage: lt_peer.py seed|leech TORRENT SAVE_DIR LISTEN_IP:PORT [SEED_IP:PORT]
Prints READY once the torrent is added, one progress line a second ("pct down_Bps up_Bps peers"), DONE when a
leecher has every piece verified, then keeps seeding until it is killed (as the rackswarm agents do).
"""
import sys
import time

import libtorrent as lt

mode, torrent, save, listen = sys.argv[1:5]
seed = sys.argv[5] if len(sys.argv) > 5 else ""
session = lt.session({
    "listen_interfaces": listen, "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
    "enable_natpmp": False, "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    "out_enc_policy": int(lt.enc_policy.disabled), "in_enc_policy": int(lt.enc_policy.disabled),
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
if mode == "seed":
    params.flags |= lt.torrent_flags.seed_mode
handle = session.add_torrent(params)
print("READY", flush=True)
done = False
last_dial = 0.0
last_report = 0.0
while True:
    status = handle.status()
    now = time.time()
    if seed and status.num_peers == 0 and now - last_dial > 1:
        host, port = seed.rsplit(":", 1)
        handle.connect_peer((host, int(port)))
        last_dial = now
    if now - last_report >= 1:
        print(f"{status.progress * 100:.1f}% {status.download_rate} {status.upload_rate} {status.num_peers}",
              flush=True)
        last_report = now
    if mode == "leech" and not done and status.is_seeding:
        print("DONE", flush=True)
        done = True
    time.sleep(0.02)
