"""HTTP servers on loopback for the remote-directory tests: nginx from Debian's
packages (a config written to a temporary folder, no root paths), and a small
Python server that can close a connection in the middle of a file."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc=None, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class Nginx:
    """``nginx`` serving ``root`` on a free loopback port (byte ranges are nginx's default)."""

    def __init__(self, root: Path):
        exe = nginx_binary()
        if exe is None:
            if os.environ.get("MIXSHARDS_REQUIRE_NGINX"):
                raise RuntimeError("nginx is not installed, and MIXSHARDS_REQUIRE_NGINX is set (CI installs nginx-light)")
            raise unittest.SkipTest("nginx is not installed (apt-get install nginx-light); CI installs it")
        self.dir = Path(tempfile.mkdtemp(prefix="mixshards-nginx-"))
        self.port = free_port()
        d = self.dir
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        location / {{ }}
    }}
}}
""")
        self.proc = subprocess.Popen([exe, "-e", str(d / "error.log"), "-p", str(d), "-c", str(d / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait(self.port, self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"nginx did not start: {e}: {(d / 'error.log').read_text() if (d / 'error.log').exists() else ''}")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class FlakyServer:
    """Serves ``root`` with byte ranges; the first ``drops`` GET requests of each ``suffix`` file
    that reach past its first ``after`` bytes send part of the body and close the connection
    (``cut``: the fraction of the requested range sent, 0 for none)."""

    def __init__(self, root: Path, drops: int = 2, cut: float = 0.5, after: int = 0, suffix: str = ".mxs"):
        self.root, self.drops, self.cut, self.after, self.suffix = Path(root), drops, cut, after, suffix
        self.requests: list[tuple[str, int, int]] = []
        self.dropped: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = server.root / self.path.lstrip("/").split("?")[0]
                if not path.is_file():
                    self.send_error(404, "Not Found")
                    return
                data = path.read_bytes()
                start, end = 0, len(data)
                m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
                if m:
                    start = int(m.group(1))
                    end = min(len(data), int(m.group(2)) + 1) if m.group(2) else len(data)
                server.requests.append((self.path, start, end))
                body = data[start:end]
                self.send_response(206 if m else 200)
                if m:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                key = self.path
                if (key.endswith(server.suffix) and end > server.after
                        and server.dropped.get(key, 0) < server.drops):
                    server.dropped[key] = server.dropped.get(key, 0) + 1
                    self.wfile.write(body[:int(len(body) * server.cut)])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
