"""nginx as the static storage server of the transfer benchmarks, started and stopped here.

```python
with Nginx(rate_limit_mb=50, put_etag=md5_hex) as web:
    web.put_object("obj.bin", path)          # into the served directory
    web.url("files", "obj.bin")              # GET at full speed
    web.url("slow", "obj.bin")               # GET, each request limited (limit_rate)
    web.url("put", "new.bin")                # PUT (dav_methods PUT)
```

A generated configuration in a temporary directory, one worker, a free 127.0.0.1 port, no
access log. `find_nginx()` says where nginx is, or None: the benchmarks skip their nginx
cases then, with a message. Debian's `nginx` package is built with the dav module that the
PUT location needs (`nginx -V` lists `--with-http_dav_module`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NGINX_HINT = "install it (Debian/Ubuntu: apt-get install -y nginx) to run these cases"

CONFIG = """\
{user}worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        location /files/ {{ alias {root}/www/; }}
        location /slow/ {{
            alias {root}/www/;
            limit_rate {rate};
        }}
        location /put/ {{
            alias {root}/upload/;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
            client_body_buffer_size 1m;
            add_header ETag '"{etag}"';
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary (PATH, then /usr/sbin, where Debian puts it), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def has_dav(binary: str) -> bool:
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=30, check=False)
    return "http_dav_module" in out.stderr + out.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Nginx:
    """One nginx (master and one worker) for the duration of a `with` block."""

    def __init__(self, *, rate_limit_mb: int = 50, put_etag: str = "0" * 32) -> None:
        binary = find_nginx()
        if binary is None:
            raise FileNotFoundError(f"nginx was not found; {NGINX_HINT}")
        self.binary = binary
        self.rate_limit_mb = rate_limit_mb
        self.put_etag = put_etag
        self.port = 0
        self.root = Path()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-nginx-")
        self.root = Path(self._tmp.name)
        for sub in ("www", "upload", "tmp"):
            (self.root / sub).mkdir()
        self.port = free_port()
        config = self.root / "nginx.conf"
        config.write_text(
            CONFIG.format(
                # As root, nginx would hand its worker to `nobody`, who cannot write here.
                user="user root;\n" if os.geteuid() == 0 else "",
                root=self.root,
                port=self.port,
                rate=f"{self.rate_limit_mb}m",
                etag=self.put_etag,
            )
        )
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.root), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                log = self.root / "error.log"
                detail = log.read_text()[-2000:] if log.exists() else ""
                self.__exit__(None, None, None)
                raise RuntimeError(f"nginx did not start: {detail}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError("nginx did not start listening within 20 s") from None
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # fast shutdown of the master and its worker
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def url(self, location: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{location}/{name}"

    def served(self, name: str) -> Path:
        """Where the file served as `/files/<name>` lives."""
        return self.root / "www" / name

    def uploaded(self, name: str) -> Path:
        """Where a PUT to `/put/<name>` lands."""
        return self.root / "upload" / name
