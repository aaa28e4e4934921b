#!/usr/bin/env python3
"""The hardening suite: uring_php against attackers and heavy users, on loopback.

Starts the server itself (a document root of small scripts, TLS with a throw-away
certificate, the internal server for /metrics), runs every probe, and prints a table:
probe, what was sent, what the server did, held/FAILED. Exit status 1 when a probe
failed. `--short` runs every probe at a small scale (seconds; CI); the default is the
full scale (minutes). See bench/README.md.
"""

import argparse
import os
import re
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import json
import platform
from datetime import datetime, timezone

import h2.config
import h2.connection
import h2.events
import h2.settings
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

SCRIPTS = {
    "hello.php": "<?php echo 'hello';",
    "sleep.php": "<?php usleep((int)($_GET['ms'] ?? 1000) * 1000); echo 'slept';",
    "big.php": (
        "<?php $l = str_repeat('z', 1023) . \"\\n\";"
        " for ($i = 0; $i < (int)$_GET['kb']; $i++) { echo $l; }"
    ),
    "flush.php": (
        "<?php $c = str_repeat('y', 65536);"
        " for ($i = 0; $i < 4096 && !connection_aborted(); $i++) { echo $c; flush(); }"
    ),
}


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, binary, env, work):
        self.binary = binary
        self.work = work
        self.log = []
        docroot = os.path.join(work, "docroot")
        if not os.path.isdir(docroot):
            os.makedirs(docroot)
            for name, body in SCRIPTS.items():
                with open(os.path.join(docroot, name), "w") as f:
                    f.write(body)
            with open(os.path.join(docroot, "1k.txt"), "w") as f:
                f.write("k" * 1024)
            os.symlink("/etc/passwd", os.path.join(docroot, "escape.txt"))
            with open(os.path.join(docroot, ".env"), "w") as f:
                f.write("SECRET=1\n")
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        if not os.path.exists(cert):
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                 "-days", "2", "-subj", "/CN=localhost"],
                check=True, capture_output=True)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LISTEN_ADDR": "127.0.0.1:0",
            "INTERNAL_ADDR": "127.0.0.1:0",
            "TLS_CERT": cert,
            "TLS_KEY": key,
            "TLS_LISTEN_ADDR": "127.0.0.1:0",
            "DOCUMENT_ROOT": docroot,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "DRAIN_TIMEOUT_SECS": "2",
        }
        full_env.update(env)
        self.env = full_env
        self.proc = subprocess.Popen(
            [binary], env=full_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addrs = {}
        ready = threading.Event()

        def drain():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace")
                if len(self.log) < 20000:
                    self.log.append(line)
                for key, needle in (("http", "listening on http://"),
                                    ("https", "listening on https://"),
                                    ("internal", "internal server on http://")):
                    i = line.find(needle)
                    if i >= 0 and key not in self.addrs:
                        rest = line[i + len(needle):]
                        self.addrs[key] = re.split(r'["\s]', rest, 1)[0]
                if {"http", "https", "internal"} <= set(self.addrs):
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(60) or "internal" not in self.addrs:
            self.stop()
            raise RuntimeError("uring_php did not start:\n" + "".join(self.log[-30:]))
        self.http = self.addrs["http"]
        self.https = self.addrs["https"]
        self.internal = self.addrs["internal"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def metrics(self):
        status, _, body = http_get(self.internal, "/metrics")
        out = {}
        for line in body.decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            out[name] = out.get(name, 0.0) + float(value)
        return out

    def metric(self, name):
        return self.metrics().get(name, 0.0)


# ---------------------------------------------------------------- clients


def split(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def connect(addr, timeout=10.0, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(split(addr))
    return s


def read_http_response(s):
    """Reads one response (Content-Length or close-delimited); returns status, head, body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    elif headers.get("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def http_get(addr, path, headers=(), timeout=10.0, method="GET", body=b""):
    s = connect(addr, timeout)
    try:
        req = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for k, v in headers:
            req += f"{k}: {v}\r\n"
        if body:
            req += f"Content-Length: {len(body)}\r\n"
        s.sendall(req.encode() + b"\r\n" + body)
        return read_http_response(s)
    finally:
        s.close()


def hello_ok(srv, timeout=10.0):
    try:
        status, _, body = http_get(srv.http, "/hello.php", timeout=timeout)
        return status == 200 and body == b"hello"
    except OSError:
        return False


def timed_hello(srv, timeout=30.0):
    t = time.monotonic()
    ok = hello_ok(srv, timeout)
    return ok, time.monotonic() - t


def closed(s):
    """True when the peer closed (EOF/reset); reads and drops pending data."""
    try:
        s.setblocking(False)
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        try:
            s.setblocking(True)
        except OSError:
            pass


def wait_until(cond, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def frames_of(data):
    """Splits raw bytes into (type, flags, stream, payload) frames; returns rest too."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        if len(data) < 9 + n:
            break
        t, fl = data[3], data[4]
        sid = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
        out.append((t, fl, sid, data[9:9 + n]))
        data = data[9 + n:]
    return out, data


class RawH2:
    """A cleartext HTTP/2 client made of raw frames (h2's state machine for requests)."""

    def __init__(self, addr, window=None, timeout=10.0):
        self.sock = connect(addr, timeout)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(cfg)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.sock.sendall(self.conn.data_to_send())
        self.addr = addr
        self.goaway = None
        self.resets = {}
        self.responses = {}
        self.ended = set()
        self.eof = False

    def request(self, path, end=True):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":path", path),
                                     (":scheme", "http"), (":authority", "localhost")],
                               end_stream=end)
        self.sock.sendall(self.conn.data_to_send())
        return sid

    def reset(self, sid, code=8):
        try:
            self.conn.reset_stream(sid, code)
            self.sock.sendall(self.conn.data_to_send())
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            pass

    def pump(self, timeout=0.2):
        """Reads what arrived within `timeout`; False once the connection ended."""
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        except OSError:
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.eof = True
            return False
        for ev in events:
            if isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev.error_code
            elif isinstance(ev, h2.events.StreamReset):
                self.resets[ev.stream_id] = ev.error_code
            elif isinstance(ev, h2.events.ResponseReceived):
                self.responses[ev.stream_id] = dict(ev.headers).get(":status")
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        try:
            self.sock.sendall(self.conn.data_to_send())
        except OSError:
            self.eof = True
            return False
        return True

    def run_until(self, cond, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not cond():
            if not self.pump(0.1):
                break
        return cond()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_preface(addr, timeout=10.0):
    """A socket past the HTTP/2 preface and SETTINGS exchange, frames left to the caller."""
    s = connect(addr, timeout)
    s.sendall(PREFACE + SettingsFrame(0).serialize())
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        buf += s.recv(65536)
        frames, _ = frames_of(buf)
        if any(t == 4 and not fl & 1 for t, fl, _, _ in frames):
            s.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
            return s
    raise RuntimeError("no SETTINGS from the server")


def sendall_until_closed(s, chunks):
    """Sends each chunk; returns (bytes sent, whether the server closed meanwhile)."""
    sent = 0
    for c in chunks:
        try:
            s.sendall(c)
        except OSError:
            return sent, True
        sent += len(c)
    return sent, False


def read_frames_until_closed(s, timeout):
    """Reads frames until EOF or `timeout`: (closed, goaway error code or None)."""
    end = time.monotonic() + timeout
    buf, goaway = b"", None
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            return True, goaway
        if not data:
            return True, goaway
        buf += data
        frames, buf = frames_of(buf)
        for t, _, _, payload in frames:
            if t == 7 and len(payload) >= 8:
                goaway = int.from_bytes(payload[4:8], "big")
    return False, goaway


H2_ERRORS = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
             6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR",
             11: "ENHANCE_YOUR_CALM", 13: "HTTP_1_1_REQUIRED"}


def h2err(code):
    return H2_ERRORS.get(code, str(code)) if code is not None else "none"


# ---------------------------------------------------------------- probes


class Probe:
    def __init__(self, name, sent, did, held):
        self.name, self.sent, self.did, self.held = name, sent, did, held


def probe_slowloris(srv, sc):
    n, limit = sc["slowloris"], int(srv.env["HEADER_TIMEOUT_SECS"])
    socks = []
    for _ in range(n):
        s = connect(srv.http)
        s.sendall(b"GET /hello.php HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    start = time.monotonic()
    got408, normal_ok, open_socks = 0, True, list(socks)
    closed_at = []
    i = 0
    while open_socks and time.monotonic() - start < limit + 10:
        for s in list(open_socks):
            try:
                s.setblocking(False)
                data = s.recv(4096)
                if data.startswith(b"HTTP/1.1 408"):
                    got408 += 1
                    continue
                if not data:
                    open_socks.remove(s)
                    closed_at.append(time.monotonic() - start)
            except (BlockingIOError, InterruptedError):
                try:
                    s.setblocking(True)
                    s.sendall(f"X-Drip-{i}: x\r\n".encode())
                except OSError:
                    open_socks.remove(s)
                    closed_at.append(time.monotonic() - start)
            except OSError:
                open_socks.remove(s)
                closed_at.append(time.monotonic() - start)
        i += 1
        if i % 5 == 0:
            normal_ok &= hello_ok(srv)
        time.sleep(0.5)
    for s in socks:
        s.close()
    last = max(closed_at) if closed_at else float("inf")
    held = not open_socks and normal_ok and last <= limit + 3
    return Probe("slowloris",
                 f"{n} connections dripping one header line every 0.5 s",
                 f"{got408} × 408, all closed by {last:.1f} s (HEADER_TIMEOUT_SECS={limit}); "
                 f"hello.php meanwhile: {'200' if normal_ok else 'FAILED'}",
                 held)


def probe_idle_h1(srv, sc):
    n, limit = sc["idle"], int(srv.env["IDLE_TIMEOUT_SECS"])
    rss0 = srv.rss_kb()
    socks = []
    for _ in range(n):
        s = connect(srv.http)
        s.sendall(b"GET /1k.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        read_http_response(s)
        socks.append(s)
    per_conn = (srv.rss_kb() - rss0) * 1024 / n
    start = time.monotonic()
    all_closed = wait_until(lambda: all(closed(s) for s in socks), limit + 10, 0.2)
    took = time.monotonic() - start
    for s in socks:
        s.close()
    return Probe("idle HTTP/1.1 keep-alive",
                 f"{n} connections, one request each, then silence",
                 f"~{per_conn / 1024:.1f} KiB RSS each; "
                 f"{'all closed' if all_closed else 'NOT all closed'} after {took:.1f} s "
                 f"(IDLE_TIMEOUT_SECS={limit})",
                 all_closed and took <= limit + 3 and hello_ok(srv))


def probe_idle_h2_ping(srv, sc):
    n, limit = sc["idle_h2"], int(srv.env["IDLE_TIMEOUT_SECS"])
    socks = [raw_preface(srv.http) for _ in range(n)]
    start = time.monotonic()
    results = [None] * n

    def watch(i):
        results[i] = read_frames_until_closed(socks[i], limit + 20)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    n_closed = sum(1 for c, _ in results if c)
    goaways = sum(1 for _, g in results if g is not None)
    for s in socks:
        s.close()
    return Probe("idle HTTP/2, PING ignored",
                 f"{n} h2c connections that never answer PING",
                 f"GOAWAY on {goaways}, {n_closed}/{n} closed after {took:.1f} s "
                 f"(IDLE_TIMEOUT_SECS={limit} + 5 s grace)",
                 n_closed == n and took <= limit + 9)


def probe_slow_readers(srv, sc):
    n, kb = sc["slow_readers"], sc["slow_reader_kb"]
    limit = int(srv.metric("uring_php_spill_limit_bytes"))
    before = srv.metrics()
    socks = []
    for _ in range(n):
        s = connect(srv.http, rcvbuf=4096)
        s.sendall(f"GET /big.php?kb={kb} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    executed0 = before.get("uring_php_php_requests_total", 0)
    wait_until(lambda: srv.metric("uring_php_php_requests_total") >= executed0 + n, 60, 0.2)
    m = srv.metrics()
    held_bytes = m.get("uring_php_spill_bytes", 0)
    refused = m.get("uring_php_spill_refused_total", 0) - before.get("uring_php_spill_refused_total", 0)
    busy = m.get('uring_php_workers{state="busy"}', 0)
    normal = hello_ok(srv)
    for s in socks:
        s.close()
    released = wait_until(lambda: srv.metric("uring_php_spill_bytes") == 0, 30, 0.2)
    held = (held_bytes <= limit + kb * 1024 and normal and released)
    return Probe("slow readers",
                 f"{n} clients asking {kb // 1024} MiB each, reading nothing",
                 f"memfd output held {held_bytes / 2**20:.0f} MiB (SPILL_MEMORY_LIMIT "
                 f"{limit / 2**20:.0f} MiB), {refused:.0f} refused 503, workers busy "
                 f"{busy:.0f}; hello.php: {'200' if normal else 'FAILED'}; "
                 f"{'all given back' if released else 'NOT given back'} once closed",
                 held)


def probe_oversized(srv, sc):
    rss0 = srv.rss_kb()
    s = connect(srv.http)
    s.sendall(b"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
    s.sendall(b"a" * 65536)
    st1, _, _ = read_http_response(s)
    s.close()
    s = connect(srv.http)
    s.sendall(b"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"100000\r\n" + b"b" * 0x100000 + b"\r\n"
    sent, cut = sendall_until_closed(s, [chunk] * 100)
    try:
        st2, _, _ = read_http_response(s)
    except OSError:
        st2 = None
    s.close()
    growth = (srv.rss_kb() - rss0) / 1024
    return Probe("oversized bodies",
                 "Content-Length 100 MB; a chunked body of up to 100 MB",
                 f"{st1} at once; {st2} after {sent / 2**20:.0f} MiB; RSS +{growth:.1f} MiB",
                 st1 == 413 and st2 == 413 and growth < 32)


def probe_malformed(srv, sc):
    cases = [
        ("bogus chunk size", b"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        ("chunk size overflow", b"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n"),
        ("two Content-Lengths", b"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        ("CL + TE smuggling", b"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n"),
        ("bad chunk terminator", b"POST /hello.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n"),
    ]
    got = []
    for name, raw in cases:
        s = connect(srv.http)
        s.sendall(raw)
        try:
            st, _, _ = read_http_response(s)
        except OSError:
            st = None
        s.close()
        got.append((name, st))
    ok = all(st is not None and 400 <= st < 500 for _, st in got)
    return Probe("malformed bodies",
                 ", ".join(n for n, _ in got),
                 ", ".join(str(st) for _, st in got) + f"; hello.php afterwards: {'200' if hello_ok(srv) else 'FAILED'}",
                 ok and hello_ok(srv))


def rapid_reset(srv, path, n, delay):
    """Opens n streams on one connection and resets them, at once or after `delay` s
    in waves of 100. Returns (streams sent, GOAWAY code or None, closed)."""
    c = RawH2(srv.http)
    c.pump(0.2)
    sent = 0
    try:
        if delay == 0:
            for _ in range(n):
                sid = c.request(path)
                c.reset(sid)
                sent += 1
                if sent % 50 == 0 and not c.pump(0.001):
                    break
        else:
            while sent < n and not c.eof:
                wave = []
                for _ in range(min(100, n - sent)):
                    try:
                        wave.append(c.request(path))
                    except h2.exceptions.TooManyStreamsError:
                        break
                    sent += 1
                c.run_until(lambda: False, delay)
                for sid in wave:
                    c.reset(sid)
                c.pump(0.01)
    except (OSError, h2.exceptions.ProtocolError):
        pass
    c.run_until(lambda: c.eof, 10)
    c.close()
    return sent, c.goaway, c.eof


def probe_rapid_reset(srv, sc, path, delay):
    n = sc["rapid_reset"]
    before = srv.metrics()
    sent, goaway, eof = rapid_reset(srv, path, n, delay)
    ok, took = timed_hello(srv)
    drained = wait_until(lambda: srv.metric("uring_php_queue_depth") == 0, 30, 0.1)
    after = srv.metrics()
    skipped = after.get("uring_php_php_requests_skipped_total", 0) - before.get("uring_php_php_requests_skipped_total", 0)
    ran = after.get("uring_php_php_requests_total", 0) - before.get("uring_php_php_requests_total", 0)
    kind = "immediate" if delay == 0 else f"after {delay * 1000:.0f} ms"
    cut = goaway == 11 or (eof and sent < n)
    # Resets that arrive after a fast script answered cancel nothing: those requests
    # were served, not wasted, and need not end the connection. Everywhere else the
    # connection must be cut, and the server must be itself again at once.
    fast_and_late = delay > 0 and "sleep" not in path
    return Probe(f"h2 rapid reset, {kind}, {path.split('?')[0].lstrip('/')}",
                 f"{sent} streams opened and reset ({kind}) on one connection",
                 f"GOAWAY {h2err(goaway)}{', closed' if eof else ''}; PHP ran {ran:.0f}, "
                 f"skipped {skipped:.0f}; queue {'drained' if drained else 'NOT drained'}; "
                 f"next hello.php {'200' if ok else 'FAILED'} after {took * 1000:.0f} ms",
                 (cut or fast_and_late) and ok and drained and took < 5)


def probe_continuation(srv, sc):
    s = raw_preface(srv.http)
    enc = Encoder()
    first = HeadersFrame(1)
    first.data = enc.encode([(":method", "GET"), (":path", "/"), (":scheme", "http"),
                             (":authority", "x")])
    chunks = [first.serialize()]
    block = b""
    for i in range(200):
        block += b"\x40" + bytes([10]) + b"x-cont-%03d" % i + bytes([120]) + b"v" * 120
    for i in range(2000):
        cf = ContinuationFrame(1)
        cf.data = block[:16000]
        chunks.append(cf.serialize())
    sent, cut = sendall_until_closed(s, chunks)
    closed_, goaway = read_frames_until_closed(s, 10)
    s.close()
    return Probe("CONTINUATION flood",
                 "one HEADERS + endless CONTINUATION frames (no END_HEADERS)",
                 f"connection {'closed' if closed_ or cut else 'OPEN'} after {sent / 2**20:.2f} MiB, "
                 f"GOAWAY {h2err(goaway)}",
                 (closed_ or cut) and sent < 8 * 2**20 and hello_ok(srv))


def probe_hpack_bomb(srv, sc):
    rss0 = srv.rss_kb()
    s = raw_preface(srv.http)
    # A 4 KiB header added to the dynamic table, then referenced 4,000 times: 16 KiB of
    # frame that decodes to 16 MB of header list.
    big = b"\x40" + b"\x06x-bomb" + b"\x7f" + bytes([0x81, 0x1f]) + b"b" * 4096
    body = Encoder().encode([(":method", "GET"), (":path", "/"), (":scheme", "http"),
                             (":authority", "x")]) + big + b"\xbe" * 4000
    frames = []
    for i in range(0, len(body), 16000):
        piece = body[i:i + 16000]
        if i == 0:
            f = HeadersFrame(1)
            f.flags.add("END_STREAM")
        else:
            f = ContinuationFrame(1)
        if i + 16000 >= len(body):
            f.flags.add("END_HEADERS")
        f.data = piece
        frames.append(f.serialize())
    sendall_until_closed(s, frames)
    closed_, goaway = read_frames_until_closed(s, 5)
    s.close()
    growth = (srv.rss_kb() - rss0) / 1024
    return Probe("HPACK bomb",
                 "4 KiB header indexed once, referenced 4,000 times (16 MB decoded)",
                 f"connection {'closed' if closed_ else 'reset the stream/kept'}, GOAWAY "
                 f"{h2err(goaway)}; RSS +{growth:.1f} MiB",
                 growth < 16 and hello_ok(srv))


def flood(srv, name, frame, count):
    rss0 = srv.rss_kb()
    s = raw_preface(srv.http)
    blob = frame * 1000
    sent, cut = sendall_until_closed(s, [blob] * (count // 1000))
    closed_, goaway = read_frames_until_closed(s, 3)
    s.close()
    growth = (srv.rss_kb() - rss0) / 1024
    return Probe(f"{name} flood",
                 f"{count} {name} frames, nothing read back",
                 f"{'closed' if closed_ or cut else 'kept open'} after {sent // len(frame)} frames, "
                 f"GOAWAY {h2err(goaway)}; RSS +{growth:.1f} MiB",
                 growth < 32 and srv.alive() and hello_ok(srv))


def probe_floods(srv, sc):
    n = sc["flood"]
    settings = SettingsFrame(0)
    settings.settings = {SettingsFrame.INITIAL_WINDOW_SIZE: 65535}
    ping = PingFrame(0)
    ping.opaque_data = b"12345678"
    wu = WindowUpdateFrame(0)
    wu.window_increment = 1
    return [flood(srv, "SETTINGS", settings.serialize(), n),
            flood(srv, "PING", ping.serialize(), n),
            flood(srv, "WINDOW_UPDATE", wu.serialize(), n)]


def probe_zero_window(srv, sc, path, label):
    workers = int(srv.env["PHP_WORKERS"])
    conns = []
    for _ in range(workers):
        c = RawH2(srv.http, window=0)
        c.request(path)
        conns.append(c)
    for c in conns:
        c.run_until(lambda: bool(c.responses), 10)
    send_timeout = float(srv.env["STREAM_SEND_TIMEOUT"].rstrip("s"))
    t0 = time.monotonic()
    ok, took = timed_hello(srv, 30)
    freed = ok and took < send_timeout + 5
    detail = (f"{workers} streams opened, headers {'received' if all(c.responses for c in conns) else 'MISSING'}; "
              f"hello.php answered after {took:.1f} s")
    held = freed
    if sc["full"]:
        # The connection's write timeout (60 s) then resets each stream: CANCEL.
        for c in conns:
            c.run_until(lambda: bool(c.resets) or c.eof, 75 - (time.monotonic() - t0))
        codes = sorted({h2err(code) for c in conns for code in c.resets.values()})
        detail += f"; streams reset with {', '.join(codes) or 'nothing'}"
        held = held and codes == ["CANCEL"]
    for c in conns:
        c.close()
    return Probe(f"zero-window streams, {label}",
                 f"{workers} h2 streams with a 0-byte window on {path.split('?')[0].lstrip('/')} (as many as PHP workers)",
                 detail, held)


def probe_queue_overflow(srv, sc):
    cap = int(srv.metric("uring_php_queue_capacity"))
    workers = int(srv.env["PHP_WORKERS"])
    n = cap + workers + 40
    statuses, retry = [], []
    lock = threading.Lock()

    def one():
        try:
            st, h, _ = http_get(srv.http, "/sleep.php?ms=300", timeout=60)
        except OSError:
            st, h = None, {}
        with lock:
            statuses.append(st)
            retry.append(h.get("retry-after"))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n503 = statuses.count(503)
    n200 = statuses.count(200)
    ok, took = timed_hello(srv)
    retry_ok = all(r == "1" for st, r in zip(statuses, retry) if st == 503)
    return Probe("queue overflow",
                 f"{n} concurrent sleep.php (QUEUE_CAPACITY {cap}, {workers} workers)",
                 f"{n200} × 200, {n503} × 503 with Retry-After: 1; "
                 f"next hello.php {took * 1000:.0f} ms",
                 n503 > 0 and n200 + n503 == n and retry_ok and ok and took < 2)


def probe_abandoned(srv, sc):
    n = sc["abandoned"]
    before = srv.metrics()
    c = RawH2(srv.http)
    sids = [c.request("/sleep.php?ms=1000") for _ in range(n)]
    c.run_until(lambda: False, 0.1)
    for sid in sids:
        c.reset(sid)
    c.pump(0.05)
    h1 = []
    for _ in range(n // 4):
        s = connect(srv.http)
        s.sendall(b"GET /sleep.php?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        h1.append(s)
    time.sleep(0.1)
    for s in h1:
        s.close()
    wait_until(lambda: srv.metric("uring_php_php_requests_abandoned_total")
               - before.get("uring_php_php_requests_abandoned_total", 0) >= n + n // 4, 10)
    ok, took = timed_hello(srv)
    c.close()
    after = srv.metrics()

    def d(k):
        return after.get(k, 0) - before.get(k, 0)

    workers = int(srv.env["PHP_WORKERS"])
    return Probe("abandoned requests",
                 f"{n} h2 sleep.php?ms=1000 reset after 100 ms; {n // 4} h1 ones whose client closed after 100 ms",
                 f"abandoned {d('uring_php_php_requests_abandoned_total'):.0f}, skipped unrun "
                 f"{d('uring_php_php_requests_skipped_total'):.0f}; next hello.php {took * 1000:.0f} ms",
                 ok and took < 3 and d("uring_php_php_requests_skipped_total") >= n + n // 4 - 2 * workers)


def wrk_run(url, secs, conns, extra=()):
    """(req/s, requests) of one wrk run."""
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{secs}s", *extra, url],
                         capture_output=True, text=True, timeout=secs + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    return (float(m.group(1)) if m else 0.0), (int(n.group(1)) if n else 0)


def wrk_rps(url, secs, conns, extra=()):
    return wrk_run(url, secs, conns, extra)[0]


def cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe_churn(binary, env, work, sc):
    srv = Server(binary, env, work)
    try:
        secs = sc["churn_secs"]
        url = f"http://{srv.http}/1k.txt"
        runs, per_conn = [], []
        for _ in range(3):
            cpu0 = cpu_secs(srv.proc.pid)
            rps, n = wrk_run(url, secs, 16, ["-H", "Connection: close"])
            runs.append(rps)
            per_conn.append((cpu_secs(srv.proc.pid) - cpu0) / max(n, 1) * 1e6)
    finally:
        srv.stop()
    ratio = runs[2] / runs[0] if runs[0] else 0
    cpu_ratio = per_conn[2] / per_conn[0] if per_conn[0] else float("inf")
    # The full run judges throughput, as the issue asks. Short runs (1 s each, in CI,
    # beside other work) judge the server's CPU time per connection, which other
    # processes cannot inflate: accepts that got dearer with every accept showed there
    # as 15x at 87 k connections.
    held = ratio >= 0.95 if sc["full"] else cpu_ratio <= 1.5
    return Probe("connection churn, no keep-alive",
                 f"3 × {secs} s wrk -c16 `Connection: close` on a 1 KiB file, fresh server",
                 f"{runs[0]:.0f}, {runs[1]:.0f}, {runs[2]:.0f} req/s (run 3 = {ratio:.2f}× run 1); "
                 f"server CPU per connection {per_conn[0]:.0f}, {per_conn[1]:.0f}, {per_conn[2]:.0f} µs "
                 f"(run 3 = {cpu_ratio:.2f}× run 1)",
                 held)


def h2load(url, n, conns=16):
    out = subprocess.run(["h2load", "--h1", "-n", str(n), "-c", str(conns), "-t", "1", url],
                         capture_output=True, text=True, timeout=3600).stdout
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def probe_soak(binary, env, work, sc):
    srv = Server(binary, env, work)
    try:
        url = f"http://{srv.http}/hello.php"
        warm = 10_000
        done1, ok1 = h2load(url, warm)
        rss1, fds1 = srv.rss_kb(), srv.fds()
        total = sc["soak"]
        done2, ok2 = h2load(url, total - warm)
        rss2, fds2 = srv.rss_kb(), srv.fds()
    finally:
        srv.stop()
    ratio = rss2 / rss1 if rss1 else 0
    return Probe("soak",
                 f"{total:,} keep-alive hello.php requests (h2load --h1 -c16)",
                 f"{ok1 + ok2:,} succeeded; RSS {rss1 / 1024:.1f} MiB after {warm:,}, "
                 f"{rss2 / 1024:.1f} MiB after {total:,} ({ratio:.3f}×); fds {fds1} → {fds2}",
                 ok1 + ok2 == total and ratio <= 1.05 and fds2 <= fds1 + 2)


def client_hello(version):
    """A minimal ClientHello offering only `version` (0x0301, 0x0302): no
    supported_versions extension, so nothing newer is on offer."""
    rnd = os.urandom(32)
    ciphers = struct.pack("!H", 4) + b"\xc0\x13\x00\x2f"
    sni = b"localhost"
    sni_ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    groups = struct.pack("!HHH", 10, 4, 2) + b"\x00\x17"
    ext = sni_ext + groups
    body = struct.pack("!H", version) + rnd + b"\x00" + ciphers + b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def probe_tls(srv, sc):
    results = []
    for name, v in (("TLS 1.0", 0x0301), ("TLS 1.1", 0x0302)):
        s = connect(srv.https)
        s.sendall(client_hello(v))
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        s.close()
        if data[:1] == b"\x15":
            results.append((name, f"alert {data[6] if len(data) > 6 else '?'}", True))
        elif data[:1] == b"\x16":
            results.append((name, "ServerHello", False))
        else:
            results.append((name, "closed", True))
    fds0 = srv.fds()
    n = sc["aborted_tls"]
    socks = []
    for i in range(n):
        s = connect(srv.https)
        hello = client_hello(0x0303)
        if i % 3 == 0:
            s.sendall(hello[:len(hello) // 2])
        elif i % 3 == 1:
            s.sendall(hello)
        socks.append(s)
    for s in socks:
        s.close()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ok = False
    try:
        with socket.create_connection(split(srv.https), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                t.sendall(b"GET /hello.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                st, _, body = read_http_response(t)
                ok = st == 200 and body == b"hello"
                proto = t.version()
    except OSError:
        proto = "failed"
    back = wait_until(lambda: srv.fds() <= fds0 + 1, 10, 0.1)
    desc = "; ".join(f"{n}: {r}" for n, r, _ in results)
    return Probe("TLS downgrade and aborted handshakes",
                 f"ClientHello offering only TLS 1.0 / 1.1; {n} handshakes cut short (half a hello, whole hello, nothing)",
                 f"{desc}; {proto} request after: {'200' if ok else 'FAILED'}; fds "
                 f"{'back to' if back else 'NOT back to'} {fds0}",
                 all(r for _, _, r in results) and ok and back)


def probe_traversal(srv, sc):
    paths = ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
             "/escape.txt", "/.env", "/1k.txt/", "/hello.php%00.txt", "//etc/passwd",
             "/%252e%252e/etc/passwd", "/1k.txt%2f"]
    got = []
    leaked = False
    for p in paths:
        try:
            s = connect(srv.http)
            s.sendall(f"GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            st, _, body = read_http_response(s)
            s.close()
        except OSError:
            st, body = None, b""
        leaked |= b"root:" in body or b"SECRET" in body or (st == 200)
        got.append(f"{p} → {st}")
    return Probe("traversal and hidden files",
                 ", ".join(paths),
                 "; ".join(got),
                 not leaked)


# ---------------------------------------------------------------- main


SCALES = {
    "short": dict(full=False, slowloris=20, idle=20, idle_h2=10, slow_readers=6,
                  slow_reader_kb=4096, rapid_reset=1000, flood=20_000, abandoned=20,
                  aborted_tls=12, churn_secs=1, soak=50_000,
                  header_timeout=2, idle_timeout=2, spill_limit="16M"),
    "full": dict(full=True, slowloris=1000, idle=5000, idle_h2=300, slow_readers=50,
                 slow_reader_kb=5120, rapid_reset=5000, flood=200_000, abandoned=40,
                 aborted_tls=300, churn_secs=5, soak=1_000_000,
                 header_timeout=5, idle_timeout=5, spill_limit="64M"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="small scale (seconds), as CI runs it")
    ap.add_argument("--bin", default=os.environ.get("URING_PHP_BIN", "target/release/uring_php"))
    ap.add_argument("--out", help="also write the report (Markdown) here")
    ap.add_argument("--only", help="comma-separated probe name prefixes")
    args = ap.parse_args()
    sc = SCALES["short" if args.short else "full"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = max(sc["idle"], sc["slowloris"]) + 200
    if hard < need:
        print(f"RLIMIT_NOFILE {hard} < {need}: some probes will fail", file=sys.stderr)
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="uring_php-hardening-")
    env = {
        "PHP_WORKERS": "4",
        "QUEUE_CAPACITY": "64",
        "HEADER_TIMEOUT_SECS": str(sc["header_timeout"]),
        "IDLE_TIMEOUT_SECS": str(sc["idle_timeout"]),
        "STREAM_SEND_TIMEOUT": "2s",
        "SPILL_MEMORY_LIMIT": sc["spill_limit"],
        "OUTPUT_SPILL_THRESHOLD": "256K",
        "REQUEST_TIMEOUT": "30s",
        "CPU_AFFINITY": os.environ.get("HARDENING_CPUS", ""),
    }
    if not env["CPU_AFFINITY"]:
        del env["CPU_AFFINITY"]
    started = time.monotonic()
    probes = []

    def want(name):
        return not args.only or any(name.startswith(p.strip()) for p in args.only.split(","))

    srv = Server(binary, env, work)
    try:
        steps = [
            ("slowloris", lambda: probe_slowloris(srv, sc)),
            ("idle-h1", lambda: probe_idle_h1(srv, sc)),
            ("idle-h2", lambda: probe_idle_h2_ping(srv, sc)),
            ("slow-readers", lambda: probe_slow_readers(srv, sc)),
            ("oversized", lambda: probe_oversized(srv, sc)),
            ("malformed", lambda: probe_malformed(srv, sc)),
            ("rapid-reset", lambda: probe_rapid_reset(srv, sc, "/hello.php", 0)),
            ("rapid-reset", lambda: probe_rapid_reset(srv, sc, "/sleep.php?ms=1000", 0)),
            ("rapid-reset", lambda: probe_rapid_reset(srv, sc, "/hello.php", 0.1)),
            ("rapid-reset", lambda: probe_rapid_reset(srv, sc, "/sleep.php?ms=1000", 0.1)),
            ("continuation", lambda: probe_continuation(srv, sc)),
            ("hpack", lambda: probe_hpack_bomb(srv, sc)),
            ("floods", lambda: probe_floods(srv, sc)),
            ("zero-window", lambda: probe_zero_window(srv, sc, "/big.php?kb=2048", "plain script")),
            ("zero-window", lambda: probe_zero_window(srv, sc, "/flush.php", "flushing script")),
            ("queue", lambda: probe_queue_overflow(srv, sc)),
            ("abandoned", lambda: probe_abandoned(srv, sc)),
            ("tls", lambda: probe_tls(srv, sc)),
            ("traversal", lambda: probe_traversal(srv, sc)),
        ]
        for name, step in steps:
            if not want(name):
                continue
            t = time.monotonic()
            try:
                got = step()
            except Exception as e:  # a probe that breaks is a failed probe
                got = Probe(name, "(probe raised)", f"{type(e).__name__}: {e}", False)
            for p in got if isinstance(got, list) else [got]:
                probes.append(p)
                print(f"[{time.monotonic() - t:6.1f} s] {'held  ' if p.held else 'FAILED'} {p.name}: {p.did}",
                      file=sys.stderr, flush=True)
            if not srv.alive():
                probes.append(Probe("server alive", "-", "the server process died", False))
                break
    finally:
        srv.stop()
    for name, fn in (("churn", probe_churn), ("soak", probe_soak)):
        if want(name):
            try:
                p = fn(binary, env, work, sc)
            except Exception as e:
                p = Probe(name, "(probe raised)", f"{type(e).__name__}: {e}", False)
            probes.append(p)
            print(f"{'held  ' if p.held else 'FAILED'} {p.name}: {p.did}", file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)

    failed = [p for p in probes if not p.held]
    lines = [
        "# Hardening suite",
        "",
        f"`bench/hardening/run{' --short' if args.short else ''}` — "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{os.cpu_count()} CPUs, {platform.release()}, binary `{os.path.relpath(binary)}`, "
        f"{time.monotonic() - started:.0f} s. Server: "
        + ", ".join(f"`{k}={v}`" for k, v in env.items()) + ".",
        "",
        f"**{len(probes) - len(failed)} of {len(probes)} probes held.**",
        "",
        "| probe | sent | what the server did | |",
        "|---|---|---|---|",
    ]
    for p in probes:
        cell = lambda s: s.replace("|", "\\|")
        lines.append(f"| {cell(p.name)} | {cell(p.sent)} | {cell(p.did)} | {'held' if p.held else '**FAILED**'} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
