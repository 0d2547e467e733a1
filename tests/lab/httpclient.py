#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Lab HTTP client for the proxy tests: the shapes curl cannot make.

  raw ADDR PORT                 sends stdin as is, prints what comes back
                                until the server closes (or 5 s of silence)
  pipeline ADDR PORT HOST N     N requests for /who in ONE write on one
                                connection; prints each answer's backend
  halfclose-get ADDR PORT HOST PATH
                                sends the request, shutdown(SHUT_WR), reads to
                                EOF; prints "status=<code> bytes=<n> sha256=<hex>"
                                of the body
  upload-close ADDR PORT HOST BYTES TAG
                                PUT /upload?tag=TAG with BYTES random bytes,
                                then close() without reading the answer;
                                prints "sha256=<hex> bytes=<n>" of what it sent
  silent ADDR PORT              connects (prints "connected"), sends nothing,
                                waits (30 s at most) for the server to close;
                                prints "closed=<eof|reset|no> after=<seconds>"
                                (seconds since connected)
  slowhead ADDR PORT            sends a request head one byte a second
                                (30 s at most); same output as silent, plus
                                "sent=<bytes>"
  concurrent ADDR PORT HOST N RELEASE
                                N connections open at once, each with one
                                answered request (keep-alive); prints
                                "answered=<k> of <N>" once all are done, then
                                keeps them open until the file RELEASE exists
                                (60 s at most), asks once more on each
                                ("again=<j> of <k>"), closes them and exits

  loop ADDR PORT HOST STOP     one request per new connection, one after
                                another, until the file STOP exists; prints
                                "requests=<n> failed=<m> max_ms=<slowest>",
                                one "failed: <why>" line per failure and
                                "progress=<n>" every 50 requests

Addresses may be IPv4 or IPv6. Exit status 1 when the exchange failed.
"""
import errno
import hashlib
import os
import resource
import selectors
import socket
import sys
import time

TIMEOUT = 5.0


def connect(addr, port, timeout=TIMEOUT):
    return socket.create_connection((addr, int(port)), timeout=timeout)


def request(host, path="/who", method="GET", extra=""):
    return ("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (method, path, host, extra)).encode()


class Response:
    """One HTTP/1.1 response parsed from a byte buffer (Content-Length or
    close-delimited bodies; the lab server always sends a length)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def parse_response(buf):
    """Returns (Response, rest) when buf holds a whole response, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    start = end + 4
    if len(buf) < start + length:
        return None
    return Response(status, headers, buf[start:start + length]), buf[start + length:]


def read_until_close(sock, idle=TIMEOUT):
    sock.settimeout(idle)
    chunks = []
    while True:
        try:
            data = sock.recv(1 << 16)
        except socket.timeout:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def cmd_raw(addr, port):
    with connect(addr, port) as sock:
        sock.sendall(sys.stdin.buffer.read())
        sys.stdout.buffer.write(read_until_close(sock))
    return 0


def cmd_pipeline(addr, port, host, n):
    n = int(n)
    with connect(addr, port) as sock:
        sock.sendall(b"".join(request(host) for _ in range(n)))
        buf, got = b"", 0
        while got < n:
            parsed = parse_response(buf)
            if parsed:
                resp, buf = parsed
                print(resp.headers.get("x-backend", "status=%d" % resp.status), flush=True)
                got += 1
                continue
            data = sock.recv(1 << 16)
            if not data:
                print("error: closed after %d answers" % got)
                return 1
            buf += data
    return 0


def cmd_halfclose_get(addr, port, host, path):
    with connect(addr, port) as sock:
        sock.sendall(request(host, path, extra="Connection: close\r\n"))
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(1 << 16)
            if not data:
                print("error: closed before the head: %r" % buf)
                return 1
            buf += data
        head, _, body = buf.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        h = hashlib.sha256(body)
        n = len(body)
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            h.update(data)
            n += len(data)
    print("status=%d bytes=%d sha256=%s" % (status, n, h.hexdigest()))
    return 0


def cmd_upload_close(addr, port, host, nbytes, tag):
    nbytes = int(nbytes)
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with connect(addr, port, timeout=30) as sock:
        sock.sendall(request(host, "/upload?tag=" + tag, "PUT", "Content-Length: %d\r\n" % nbytes))
        left = nbytes
        while left:
            part = block[: min(left, len(block))]
            sock.sendall(part)
            h.update(part)
            left -= len(part)
    print("sha256=%s bytes=%d" % (h.hexdigest(), nbytes))
    return 0


def wait_closed(sock, seconds):
    """Waits for EOF or RST; returns "eof", "reset" or "no"."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return "eof"
    except socket.timeout:
        return "no"
    except ConnectionResetError:
        return "reset"


def cmd_silent(addr, port):
    with connect(addr, port) as sock:
        print("connected", flush=True)
        t0 = time.monotonic()
        how = wait_closed(sock, 30)
        print("closed=%s after=%.2f" % (how, time.monotonic() - t0))
    return 0


def cmd_slowhead(addr, port):
    head = b"GET /who HTTP/1.1\r\nHost: api.app.dev\r\nX-Padding: " + b"x" * 64 + b"\r\n\r\n"
    with connect(addr, port) as sock:
        print("connected", flush=True)
        t0 = time.monotonic()
        how, sent = "no", 0
        while sent < len(head) and time.monotonic() - t0 < 30:
            try:
                sock.send(head[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                how = "reset"
                break
            sent += 1
            how = wait_closed(sock, 1.0)
            if how != "no":
                break
        print("closed=%s after=%.2f sent=%d" % (how, time.monotonic() - t0, sent))
    return 0


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.out = b""
        self.buf = b""
        self.done = False


def start_connect(sel, addr, port, host):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    err = sock.connect_ex((addr, int(port)))
    if err not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(err, os.strerror(err))
    c = Conn(sock)
    c.out = request(host)
    sel.register(sock, selectors.EVENT_WRITE, c)
    return c


def on_ready(sel, c, mask):
    """Advances one connection; returns True when its answer is complete."""
    if mask & selectors.EVENT_WRITE:
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        c.out = c.out[c.sock.send(c.out):]
        if not c.out:
            sel.modify(c.sock, selectors.EVENT_READ, c)
        return False
    data = c.sock.recv(1 << 16)
    if not data:
        raise ConnectionError("closed before the answer")
    c.buf += data
    parsed = parse_response(c.buf)
    if parsed is None:
        return False
    if parsed[0].status != 200:
        raise ConnectionError("status %d" % parsed[0].status)
    sel.unregister(c.sock)
    c.done = True
    return True


def pump_answers(sel, deadline):
    """Runs registered exchanges until none is left or the deadline;
    returns (answered, failed)."""
    answered = failed = 0
    while sel.get_map() and time.monotonic() < deadline:
        wait = max(0.0, min(1.0, deadline - time.monotonic()))
        for key, mask in sel.select(timeout=wait):
            try:
                if on_ready(sel, key.data, mask):
                    answered += 1
            except OSError as e:
                print("error: %s" % e, flush=True)
                sel.unregister(key.fileobj)
                failed += 1
    return answered, failed


def cmd_concurrent(addr, port, host, n, release):
    n = int(n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    sel = selectors.DefaultSelector()
    conns, answered, failed = [], 0, 0
    deadline = time.monotonic() + 60
    # At most 256 unanswered at a time, so that a burst of SYNs does not
    # overflow a listen queue; answered ones stay open.
    while len(conns) < n and time.monotonic() < deadline:
        while len(conns) < n and len(sel.get_map()) < 256:
            conns.append(start_connect(sel, addr, port, host))
        a, f = pump_answers(sel, min(deadline, time.monotonic() + 0.05))
        answered, failed = answered + a, failed + f
    a, f = pump_answers(sel, deadline)
    answered, failed = answered + a, failed + f
    print("answered=%d of %d" % (answered, n), flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.1)
    # the connections still work: one more request on each
    for c in conns:
        if c.done:
            c.done, c.buf, c.out = False, b"", request(host)
            sel.register(c.sock, selectors.EVENT_WRITE, c)
    again, _ = pump_answers(sel, time.monotonic() + 60)
    print("again=%d of %d" % (again, answered), flush=True)
    for c in conns:
        c.sock.close()
    return 0 if answered == n and again == n else 1


def one_request(addr, port, host):
    """One request on a new connection; returns None, or why it failed."""
    try:
        with connect(addr, port) as sock:
            sock.sendall(request(host, extra="Connection: close\r\n"))
            got = parse_response(read_until_close(sock))
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)
    if got is None:
        return "no complete answer"
    if got[0].status != 200:
        return "status %d" % got[0].status
    return None


def cmd_loop(addr, port, host, stop):
    requests, failed, slowest = 0, 0, 0.0
    while not os.path.exists(stop):
        start = time.monotonic()
        why = one_request(addr, port, host)
        slowest = max(slowest, time.monotonic() - start)
        requests += 1
        if why:
            failed += 1
            print("failed: %s" % why, flush=True)
        if requests % 50 == 0:
            print("progress=%d" % requests, flush=True)
    print("requests=%d failed=%d max_ms=%d" % (requests, failed, slowest * 1000), flush=True)
    return 0


COMMANDS = {
    "raw": cmd_raw,
    "pipeline": cmd_pipeline,
    "halfclose-get": cmd_halfclose_get,
    "upload-close": cmd_upload_close,
    "silent": cmd_silent,
    "slowhead": cmd_slowhead,
    "concurrent": cmd_concurrent,
    "loop": cmd_loop,
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        return 2
    try:
        return COMMANDS[sys.argv[1]](*sys.argv[2:])
    except (OSError, ConnectionError) as e:
        print("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
