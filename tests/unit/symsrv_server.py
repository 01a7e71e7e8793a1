#!/usr/bin/env python3
"""symsrv_server.py ROOT PORTFILE REQLOG: a symbol server on 127.0.0.1 for test_symstore.

Serves the store tree under ROOT. The first path component picks a behaviour:
  /ok/<path>      the file ROOT/<path>, or 404
  /trunc/<path>   announces the full length, sends half of the body, closes the connection
  /e500/<path>    500 for every request
  /redir/<path>   302 to /ok/<path>
Each request path is appended to REQLOG (one line each). The port (picked by the system) is
written to PORTFILE once the server listens. The server exits by itself after 300 seconds.
"""
import http.server
import os
import sys
import threading
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    root = "."
    reqlog = None

    def log_message(self, fmt, *args):
        pass

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(self.reqlog, "a") as f:
            f.write(self.path + "\n")
        parts = urllib.parse.unquote(self.path).lstrip("/").split("/", 1)
        if len(parts) != 2 or ".." in parts[1].split("/"):
            self._send(400)
            return
        mode, rel = parts
        if mode == "e500":
            self._send(500, b"internal error\n")
            return
        if mode == "redir":
            self._send(302, b"", {"Location": "/ok/" + urllib.parse.quote(rel)})
            return
        path = os.path.join(self.root, rel)
        if not os.path.isfile(path):
            self._send(404, b"not found\n")
            return
        with open(path, "rb") as f:
            data = f.read()
        if mode == "ok":
            self._send(200, data, {"Content-Type": "application/octet-stream"})
        elif mode == "trunc":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send(404)


def main():
    root, portfile, reqlog = sys.argv[1], sys.argv[2], sys.argv[3]
    Handler.root = root
    Handler.reqlog = reqlog
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, portfile)
    timer = threading.Timer(300, srv.shutdown)
    timer.daemon = True
    timer.start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
