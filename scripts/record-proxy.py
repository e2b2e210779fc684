#!/usr/bin/env python3
"""A recording proxy between QuizMaster and a real model server, for tests/fixtures/llm/.

    record-proxy.py --listen 127.0.0.1:PORT --upstream http://127.0.0.1:8081 --out FILE.json
        [--note KEY=VALUE ...]

Every request is passed on unchanged; every answer is passed back as it arrives, piece by
piece, and written to FILE.json (rewritten after each exchange) with the exact bytes of each
piece as the proxy read it (one HTTP chunk or less), its time since the request, the status
and the content type. The fake server in tests/generators/fake_llm.rs replays these pieces in
the same order and sizes. Standard library only; listens on loopback only. Stops on SIGTERM.
"""

import argparse
import base64
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
EXCHANGES = []
# Exchanges still being read. An answer QuizMaster stopped reading (target reached) is only
# noticed at the proxy's next write, so a stop waits for these before it ends.
IN_FLIGHT = [0]


def piece(data, started):
    entry = {"ms": int((time.monotonic() - started) * 1000)}
    try:
        entry["text"] = data.decode("utf-8")
    except UnicodeDecodeError:
        # A piece may end inside a multi-byte character: keep its bytes exactly.
        entry["base64"] = base64.b64encode(data).decode("ascii")
    return entry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost"):
        sys.exit("record-proxy: listens on loopback only")
    upstream = urllib.parse.urlsplit(args.upstream)
    notes = dict(n.split("=", 1) for n in args.note)

    def save():
        with LOCK:
            document = {"notes": notes, "exchanges": EXCHANGES}
            with open(args.out + ".tmp", "w", encoding="utf-8") as out:
                json.dump(document, out, indent=1, ensure_ascii=False)
                out.write("\n")
            os.replace(args.out + ".tmp", args.out)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def forward(self):
            with LOCK:
                IN_FLIGHT[0] += 1
            try:
                self.exchange()
            finally:
                with LOCK:
                    IN_FLIGHT[0] -= 1

        def exchange(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            started = time.monotonic()
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=1800)
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            try:
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
            except OSError as err:
                self.send_error(502, f"upstream unreachable: {err}")
                return
            try:
                request_json = json.loads(body) if body else None
            except ValueError:
                request_json = body.decode("utf-8", "replace")
            exchange = {
                "method": self.command,
                "path": self.path,
                "request": request_json,
                "status": response.status,
                "content_type": response.getheader("content-type", ""),
                "pieces": [],
            }
            self.send_response(response.status)
            for name in ("content-type", "retry-after"):
                value = response.getheader(name)
                if value:
                    self.send_header(name, value)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            client_gone = False
            while True:
                data = response.read1(65536)
                if not data:
                    break
                exchange["pieces"].append(piece(data, started))
                if not client_gone:
                    try:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    except OSError:
                        # QuizMaster closed the stream (target reached, cancel): stop reading.
                        client_gone = True
                        exchange["client_closed"] = True
                        break
            if not client_gone:
                try:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    pass
            connection.close()
            exchange["total_ms"] = int((time.monotonic() - started) * 1000)
            with LOCK:
                EXCHANGES.append(exchange)
            save()

        do_GET = forward
        do_POST = forward

    server = ThreadingHTTPServer((host, int(port)), Handler)

    def stop():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with LOCK:
                if IN_FLIGHT[0] == 0:
                    break
            time.sleep(0.2)
        server.shutdown()

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=stop).start())
    save()
    server.serve_forever()


if __name__ == "__main__":
    main()
