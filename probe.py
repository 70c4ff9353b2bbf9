import libtorrent as lt, sys, time
t0=time.time()
s = lt.session({"listen_interfaces": "127.0.0.1:7112", "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False, "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True})
p = lt.add_torrent_params(); p.ti = lt.torrent_info("s64.torrent"); p.save_path = "ltout"
h = s.add_torrent(p)
last=0; prev=None
while True:
    st=h.status()
    if st.num_peers==0 and time.time()-last>1:
        h.connect_peer(("127.0.0.1",int(sys.argv[1]))); last=time.time(); print("%.3f dial state=%s"%(time.time()-t0, st.state))
    cur=(st.num_peers, st.state, int(st.progress*10))
    if cur!=prev: print("%.3f peers=%d state=%s prog=%.2f"%(time.time()-t0, st.num_peers, st.state, st.progress)); prev=cur
    if st.is_seeding: break
    time.sleep(0.01)
