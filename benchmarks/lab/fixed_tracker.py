"""A BitTorrent HTTP tracker that answers every announce with the same compact peer list (for libtorrent runs).

Usage: fixed_tracker.py LISTEN_IP PORT PEER_IP:PORT...
"""
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

host, port = sys.argv[1], int(sys.argv[2])
peers = b"".join(socket.inet_aton(p.rsplit(":", 1)[0]) + struct.pack(">H", int(p.rsplit(":", 1)[1]))
                 for p in sys.argv[3:])
BODY = b"d8:intervali5e5:peers" + str(len(peers)).encode() + b":" + peers + b"e"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer((host, port), Handler)
print("READY", flush=True)
server.serve_forever()
