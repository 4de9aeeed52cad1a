"""A hostile server of the test's own on a free loopback port: it records every request it gets.

Used to prove that a secret never reaches an address it was not saved for, in any encoding.
"""

import base64
import http.server
import threading
from dataclasses import dataclass
from urllib.parse import quote, unquote

from conftest import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def text(self):
        head = "\n".join(f"{name}: {value}" for name, value in self.headers.items())
        return f"{self.method} {self.path}\n{head}\n\n{self.body.decode('latin-1')}"


class Listener:
    def __init__(self, routes=None):
        # path -> (content type, body); anything else gets a JSON answer.
        self.routes = dict(routes or {})
        # path -> the Location of a 302 answer.
        self.redirects = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                listener.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
                location = listener.redirects.get(self.path.split("?")[0])
                if location:
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                content_type, answer = listener.routes.get(
                    self.path.split("?")[0], ("application/json", '{"success": true, "result": {}}')
                )
                answer = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_HEAD = _record

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def leaked(self, secret, username=""):
        """The requests that carry `secret` in any form: raw, URL-encoded, base64 (alone or as user:secret)."""
        forms = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}
        if username:
            forms.add(base64.b64encode(f"{username}:{secret}".encode()).decode())
        found = []
        for request in self.received:
            text = request.text()
            if any(form in text or form in unquote(text) for form in forms):
                found.append(request)
        return found
