"""Python interop peer for tests/tests/interop.rs, built on the `websockets` package (sync API).

Modes:
  echo-server PORT_FILE [deflate]
                         Listen on 127.0.0.1, port 0; write the port to PORT_FILE; echo every
                         data message (up to 2 MiB) and obey the `please-*` commands below;
                         accept permessage-deflate only with `deflate` (the client, like the
                         `websockets` default, always offers it). After
                         each connection, print one line: `closed rcvd=CODE` (the code received
                         from the other end, 1006 for none) or `failed sent=CODE` (this library
                         failed the connection with CODE). Exits by itself after LIFETIME seconds.
  client URL             Run the scripted connections against URL (an echo server with the same
                         commands), print one line per connection, then `PASS`; exit 1 on failure.

Commands (text messages, never echoed):
  please-close:CODE      close with CODE and reason `requested`
  please-ping:DATA       ping with DATA; when the pong arrives, send `pong-ok:DATA`
  please-send-invalid    write a raw unmasked text frame of invalid UTF-8 (the other end must
                         fail the connection with 1007)

The scripted sequence (mirrored in interop.rs and peer.mjs): 1,000 messages from `script()`, each
echoed; fragmented text and binary messages; a ping; `please-ping`; then the client closes with
4000 `client done`. Then three short connections: `please-close:4001`, invalid UTF-8 from the
client, `please-send-invalid`.
"""

import os
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import serve

MAX_SIZE = 2 << 20
LIFETIME = 120.0
TIMEOUT = 20.0
MESSAGES = 1000
FIXED_SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]
UNIT = "héllo wörld ✓ 😀 0123456789 ".encode()
# Text split inside é, ✓ and 😀; binary with a 64-bit-length fragment and an empty one.
FRAG_TEXT = [b"fragmented t\xc3", b"\xa9xt \xe2\x9c", b"\x93 \xf0\x9f\x98\x80 end"]
FRAG_BINARY = [bytes(j % 251 for j in range(70000)), b"\x00\xff" * 100, b""]
# Text frame "\xff\xfe": unmasked (server to client) and masked with a zero key (client to server).
INVALID_FROM_SERVER = bytes([0x81, 0x02, 0xFF, 0xFE])
INVALID_FROM_CLIENT = bytes([0x81, 0x82, 0, 0, 0, 0, 0xFF, 0xFE])


def script():
    """Yields (is_text, payload) for the 1,000 scripted messages: xorshift32 sizes, mostly small,
    ~9% up to 64 KiB, ~1% near 1 MiB."""
    x = 0x9E3779B9
    for i in range(MESSAGES):
        draws = []
        for _ in range(2):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            draws.append(x)
        a, b = draws
        band = (a >> 1) % 100
        if i < len(FIXED_SIZES):
            size = FIXED_SIZES[i]
        elif band == 0:
            size = (1 << 20) - b % 4096
        elif band < 10:
            size = b % 65536
        else:
            size = b % 1024
        if a & 1 == 0:
            full = f"#{i}:".encode() + UNIT * (size // len(UNIT) + 1)
            cut = size
            while cut > 0 and full[cut] & 0xC0 == 0x80:
                cut -= 1
            yield True, full[:cut] + b"." * (size - cut)
        else:
            base = bytes((i + 7 * j) & 0xFF for j in range(256))
            yield False, (base * (size // 256 + 1))[:size]


def describe(ws, initiated):
    """The one-line outcome of a closed connection (see the module doc)."""
    p = ws.protocol
    if not initiated and p.close_sent is not None and (p.close_rcvd is None or p.close_rcvd_then_sent is False):
        return f"failed sent={p.close_sent.code}"
    return f"closed rcvd={ws.close_code}"


def handle(ws):
    initiated = False
    try:
        while True:
            msg = ws.recv()
            if isinstance(msg, str) and msg.startswith("please-"):
                if msg.startswith("please-close:"):
                    initiated = True
                    ws.close(int(msg.split(":", 1)[1]), "requested")
                    break
                if msg.startswith("please-ping:"):
                    data = msg.split(":", 1)[1]
                    if not ws.ping(data).wait(TIMEOUT):
                        raise RuntimeError("no pong")
                    ws.send("pong-ok:" + data)
                elif msg == "please-send-invalid":
                    ws.socket.sendall(INVALID_FROM_SERVER)
                continue
            ws.send(msg)
    except ConnectionClosed:
        pass
    print(describe(ws, initiated), flush=True)


def echo_server(port_file, compression=None):
    with serve(
        handle, "127.0.0.1", 0, max_size=MAX_SIZE, ping_interval=None, compression=compression
    ) as server:
        port = server.socket.getsockname()[1]
        with open(port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(port_file + ".tmp", port_file)
        stop = threading.Timer(LIFETIME, server.shutdown)
        stop.daemon = True
        stop.start()
        server.serve_forever()


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def open_ws(url):
    return connect(url, max_size=MAX_SIZE, ping_interval=None, open_timeout=TIMEOUT, close_timeout=TIMEOUT)


def closed_outcome(ws, name, initiated=False):
    try:
        msg = ws.recv(timeout=TIMEOUT)
        raise AssertionError(f"{name}: expected a close, got a message of {len(msg)}")
    except ConnectionClosed:
        pass
    ws.wait_closed(TIMEOUT)
    print(f"{name}: {describe(ws, initiated)}", flush=True)


def client(url):
    with open_ws(url) as ws:
        for i, (is_text, payload) in enumerate(script()):
            ws.send(payload, text=is_text)
            echo = ws.recv(timeout=TIMEOUT)
            got = echo.encode() if isinstance(echo, str) else echo
            expect(isinstance(echo, str) == is_text and got == payload, f"echo of message {i} differs")
        ws.send(FRAG_TEXT, text=True)
        expect(ws.recv(timeout=TIMEOUT) == b"".join(FRAG_TEXT).decode(), "fragmented text echo")
        ws.send(FRAG_BINARY)
        expect(ws.recv(timeout=TIMEOUT) == b"".join(FRAG_BINARY), "fragmented binary echo")
        expect(ws.ping(b"ping-1").wait(TIMEOUT), "no pong for ping-1")
        ws.send("please-ping:srv-ping")
        expect(ws.recv(timeout=TIMEOUT) == "pong-ok:srv-ping", "pong-ok:srv-ping")
        ws.close(4000, "client done")
        print(f"main: {describe(ws, True)}", flush=True)

    with open_ws(url) as ws:
        ws.send("please-close:4001")
        closed_outcome(ws, "server-close")

    with open_ws(url) as ws:
        ws.socket.sendall(INVALID_FROM_CLIENT)
        closed_outcome(ws, "invalid-to-server")

    with open_ws(url) as ws:
        ws.send("please-send-invalid")
        closed_outcome(ws, "invalid-to-client")
    print("PASS", flush=True)


def main():
    args = sys.argv[1:]
    if args[:1] == ["echo-server"] and len(args) in (2, 3) and args[2:] in ([], ["deflate"]):
        echo_server(args[1], "deflate" if args[2:] else None)
    elif args[:1] != ["client"] or len(args) != 2:
        sys.exit("usage: peer.py echo-server PORT_FILE [deflate] | client URL")
    else:
        # Stop by ourselves if the test runner forgot us.
        stop = threading.Timer(LIFETIME, lambda: os._exit(3))
        stop.daemon = True
        stop.start()
        try:
            client(sys.argv[2])
        except Exception as e:  # noqa: BLE001 - report any failure through the exit code
            print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
