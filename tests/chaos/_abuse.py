"""Abusive clients on raw sockets: slowloris heads and bodies, huge bodies, bad bytes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ANSWER_WAIT = 30.0  # seconds a raw client waits for a status line
STORM_CLIENT = Path(__file__).parents[1] / "serve" / "_storm_client.py"
STORM_DEADLINE = 60.0


def status_of(sock: socket.socket) -> str:
    """The status code of the response on *sock*, or how the connection ended."""
    sock.settimeout(ANSWER_WAIT)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return "closed" if not data else f"torn {data[:40]!r}"
            data += chunk
    except TimeoutError:
        return "timeout"
    except OSError:
        return "reset"
    return data.split(b" ", 2)[1].decode("latin-1")


def send_all(sock: socket.socket, data: bytes) -> bool:
    """Send; False when the server already closed (it may have answered early)."""
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


def request(port: int, head: bytes, body: bytes = b"") -> str:
    """One raw request (head without the blank line); the status or how it ended."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT) as sock:
        send_all(sock, head + b"\r\n" + body)
        return status_of(sock)


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: chaos\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + extra
    )


def slowloris(port: int, sockets: int, seconds: float, *, body: bool) -> Counter[str]:
    """*sockets* connections trickling a head (or a body) for *seconds*, then finishing it."""
    conns: list[tuple[socket.socket, bytearray]] = []
    for i in range(sockets):
        key = f"slow-{'body' if body else 'head'}-{i}"
        payload = json.dumps({"graph_id": "work", "idempotency_key": key, "params": {}}).encode()
        whole = post("/v1/runs", payload) + b"\r\n" + payload
        first = len(whole) - len(payload) if body else 20
        sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT)
        send_all(sock, whole[:first])
        conns.append((sock, bytearray(whole[first:])))
    outcome: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for sock, rest in conns:
            if len(rest) <= 2:
                continue
            if not send_all(sock, bytes(rest[:1])):
                rest.clear()
                outcome["cut off by the server"] += 1
            del rest[:1]
        time.sleep(0.5)
    for sock, rest in conns:
        send_all(sock, bytes(rest))
        outcome[status_of(sock)] += 1
        sock.close()
    return outcome


def big_body(port: int, megabytes: int) -> str:
    """POST a valid JSON run request of *megabytes* MiB in 1 MiB writes; the status."""
    total = megabytes << 20
    prefix = b'{"graph_id": "work", "idempotency_key": "big-%d", "params": {"pad": "' % megabytes
    suffix = b'"}}'
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT) as sock:
        ok = send_all(sock, post("/v1/runs", b"x" * total) + b"\r\n" + prefix)
        left = total - len(prefix) - len(suffix)
        while ok and left > 0:
            ok = send_all(sock, b"x" * min(left, 1 << 20))
            left -= 1 << 20
        if ok:
            send_all(sock, suffix)
        return status_of(sock)


def bad_inputs(port: int) -> dict[str, str]:
    """Malformed requests, each answered on its own connection: name -> status."""
    run = "/v1/runs"
    deep_array = b"[" * 100_000 + b"]" * 100_000
    deep_params = b'{"graph_id": "work", "idempotency_key": "deep", "params": ' + (
        b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}"
    )
    huge = b'{"graph_id": 1' + b"0" * 5000 + b"}"
    deep_note = b'{"note": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    cases = {
        "deep JSON array body": (post(run, deep_array), deep_array),
        "deep JSON params": (post(run, deep_params), deep_params),
        "deep JSON pause body": (
            post("/v1/triggers/cron:tick/pause", deep_note),
            deep_note,
        ),
        "invalid UTF-8 in the body": (
            post(run, b'{"graph_id": "work", "idempotency_key": "\xff\xfe", "params": {}}'),
            b'{"graph_id": "work", "idempotency_key": "\xff\xfe", "params": {}}',
        ),
        "lone surrogate key": (
            post(run, b'{"graph_id": "work", "idempotency_key": "\\ud800", "params": {}}'),
            b'{"graph_id": "work", "idempotency_key": "\\ud800", "params": {}}',
        ),
        "lone surrogate pause note": (
            post("/v1/triggers/cron:tick/pause", b'{"note": "\\udc00"}'),
            b'{"note": "\\udc00"}',
        ),
        "invalid UTF-8 in the path": (b"GET /v1/runs/\xff\xfe HTTP/1.1\r\nHost: c\r\n", b""),
        "percent-encoded invalid UTF-8": (b"GET /v1/runs/%FF%FE HTTP/1.1\r\nHost: c\r\n", b""),
        "invalid UTF-8 in a filter": (b"GET /v1/runs?status=%FF HTTP/1.1\r\nHost: c\r\n", b""),
        "Unicode digit limit": (b"GET /v1/runs?limit=%C2%B2 HTTP/1.1\r\nHost: c\r\n", b""),
        "Arabic-Indic digit limit": (
            b"GET /v1/runs?limit=%D9%A1%D9%A0 HTTP/1.1\r\nHost: c\r\n",
            b"",
        ),
        "invalid UTF-8 in a header": (b"GET /v1/runs HTTP/1.1\r\nHost: c\r\nX-Bad: \xff\r\n", b""),
        "not JSON at all": (post(run, b"\x00\x01\x02garbage"), b"\x00\x01\x02garbage"),
        "JSON array instead of object": (post(run, b"[1, 2, 3]"), b"[1, 2, 3]"),
        "huge number": (post(run, huge), huge),
    }
    return {name: request(port, head, body) for name, (head, body) in cases.items()}


def storm(port: int, connections: int) -> tuple[int, int, int]:
    """tests/serve/_storm_client.py as its own process: (answered, failed, pending)."""
    done = subprocess.run(
        [sys.executable, str(STORM_CLIENT), str(port), str(connections), str(STORM_DEADLINE)],
        capture_output=True,
        text=True,
        timeout=STORM_DEADLINE + 60,
        check=True,
    )
    answered, failed, pending = map(int, done.stdout.split())
    return answered, failed, pending
