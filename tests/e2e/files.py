#!/usr/bin/env python3
"""tests/e2e/files.py — a loopback HTTP file server for `mast pull`'s tests.

    files.py DIR LOG        serves DIR's files on 127.0.0.1 (a free port, printed first)

Paths (NAME a file of DIR):
  /ok/NAME       the file, with Range and If-Range (a strong ETag of its contents)
  /drop/NAME     the first request of each path sends the headers and half the bytes, then
                 drops the connection; later ones are /ok's
  /stall/NAME    the same, then every later request drops before a byte of the body
  /corrupt/NAME  the file with one byte changed in the middle
  /garbage       100 kB that are not GGUF
  anything else  404
Every request is logged to LOG as "path range=… if-range=…".
"""
import hashlib
import http.server
import os
import sys
import threading

root, log_path = sys.argv[1], sys.argv[2]
log_lock = threading.Lock()
seen = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body_for(self, path):
        parts = path.split("/", 2)
        if path == "/garbage":
            return "garbage", bytes((i * 7919) % 251 for i in range(100000))
        if len(parts) != 3 or parts[1] not in ("ok", "drop", "stall", "corrupt"):
            return None, None
        name = os.path.basename(parts[2])
        try:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
        except OSError:
            return None, None
        if parts[1] == "corrupt":
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
        return parts[1], data

    def do_GET(self):
        rng, ifr = self.headers.get("Range"), self.headers.get("If-Range")
        with log_lock, open(log_path, "a") as log:
            log.write("%s range=%s if-range=%s\n" % (self.path, rng, ifr))
        mode, data = self.body_for(self.path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
        start = 0
        if rng and rng.startswith("bytes=") and (ifr is None or ifr == etag):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        first = self.path not in seen
        seen.add(self.path)
        if mode == "stall" or (mode == "drop" and first):   # half of what is left (or nothing), then it drops
            self.wfile.write(data[start:start + (len(data) - start) // 2] if first else b"")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data[start:])


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
