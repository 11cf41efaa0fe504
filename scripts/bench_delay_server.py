#!/usr/bin/env python3
"""Loopback HTTP/1.1 delay server for scripts/bench (workload W2).

Answers every GET after DELAY_MS milliseconds with a small JSON body, over keep-alive
connections, and can hold thousands of connections at once (asyncio Protocol, no
per-request task). Binds 127.0.0.1 only. Usage:
    bench_delay_server.py PORT DELAY_MS
One process, one core: at ~20k requests/s it can become the limit of W2, which is why
scripts/bench prefers nginx's echo module when it is installed. Prints "ready" on stdout once listening.
"""
import asyncio
import socket
import sys

BODY = b'{"ok":true,"delayed_ms":%d}\n'


class DelayProtocol(asyncio.Protocol):
    def __init__(self, loop, delay, response):
        self.loop, self.delay, self.response = loop, delay, response
        self.buf = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        # Pipelining is not expected, but answer every complete request head.
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.transport.close()
                return
            self.buf = self.buf[end + 4:]
            self.loop.call_later(self.delay, self._answer)

    def _answer(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.response)

    def connection_lost(self, exc):
        self.transport = None


def serve(port, delay_ms):
    body = BODY % delay_ms
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)) + body
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(8192)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: DelayProtocol(loop, delay_ms / 1000.0, response), sock=sock, backlog=8192))
    print("ready", flush=True)
    try:
        loop.run_until_complete(server.serve_forever())
    finally:
        server.close()


def main():
    port, delay_ms = int(sys.argv[1]), int(sys.argv[2])
    serve(port, delay_ms)


if __name__ == "__main__":
    main()
