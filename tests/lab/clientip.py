"""A stand-in for agnhost netexec's ``/clientip``: answers the caller's ``ip:port``.

The seed's pods run ``agnhost netexec --http-port=8090``; the lab's pods and external host
run this instead: ``python -m tests.lab.clientip PORT``. It prints ``listening`` once the
socket is bound, which is what the lab waits for.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ClientIpHandler(BaseHTTPRequestHandler):
    """GET /clientip answers ``ip:port`` of the peer; anything else is a 404."""

    def do_GET(self) -> None:
        if self.path != "/clientip":
            self.send_error(404)
            return
        host, port = self.client_address[:2]
        body = f"{host}:{port}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base signature)
        # One line per request on stdout (the lab's log file), not stderr noise.
        print(f"{self.client_address[0]} {format % args}", flush=True)


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), ClientIpHandler)  # noqa: S104
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
