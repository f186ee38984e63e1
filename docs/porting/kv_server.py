"""The porting guide's asyncio program (docs/porting.md): a line-based
key-value server and its client. Its tulip port is
crates/tulip/examples/porting_kv.rs; the two speak the same protocol, so
either client runs against either server.

    python3 kv_server.py                  # demo; exits by itself
    python3 kv_server.py --serve ADDR     # serve until SIGINT/SIGTERM
    python3 kv_server.py --client ADDR    # run the client against ADDR

Python 3.11 or later (asyncio.timeout).
"""

import asyncio
import os
import signal
import sys

IDLE_TIMEOUT = 0.2  # seconds: a connection that sends no line is closed
STATS_EVERY = 0.1  # seconds between two statistics lines


# ------------------------------------------------------------------ server

class State:
    """What every connection shares; the factory lambda captures it."""

    def __init__(self):
        self.store = {}
        self.connections = {}  # id -> transport, to close them on shutdown
        self.next_id = 0
        self.commands = 0
        self.stats_timer = None


class KVProtocol(asyncio.Protocol):
    def __init__(self, loop, state):
        self.loop = loop
        self.state = state
        self.id = 0
        self.transport = None
        self.buf = b""
        self.idle = None

    def reset_idle(self):
        """(Re)arms the idle timer: cancel the old one, schedule a new one."""
        if self.idle is not None:
            self.idle.cancel()
        self.idle = self.loop.call_later(IDLE_TIMEOUT, self.on_idle)

    def on_idle(self):
        print(f"[server] connection {self.id} idle: closing it")
        self.transport.write(b"BYE idle\n")
        self.transport.close()  # connection_lost follows, from the loop

    def command(self, line):
        """Runs one command: the reply, and whether to close afterwards."""
        self.state.commands += 1
        match line.split(" ", 2):
            case ["SET", key, value]:
                self.state.store[key] = value
                return "OK", False
            case ["GET", key]:
                if key in self.state.store:
                    return f"VALUE {self.state.store[key]}", False
                return "NOT_FOUND", False
            case ["QUIT"]:
                return "BYE", True
            case _:
                return "ERROR unknown command", False

    def connection_made(self, transport):
        self.state.next_id += 1
        self.id = self.state.next_id
        self.state.connections[self.id] = transport
        print(f"[server] connection {self.id} from {transport.get_extra_info('peername')}")
        self.transport = transport
        self.reset_idle()

    def connection_lost(self, exc):
        if self.idle is not None:
            self.idle.cancel()
        del self.state.connections[self.id]
        self.transport = None
        if exc is None:
            print(f"[server] connection {self.id} closed")
        else:
            print(f"[server] connection {self.id} lost ({type(exc).__name__}): {exc}")

    def data_received(self, data):
        self.buf += data
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            line = raw.decode(errors="replace").strip()
            self.reset_idle()
            reply, close = self.command(line)
            self.transport.write(f"{reply}\n".encode())
            if close:
                self.transport.close()
                return


def report_stats(loop, state):
    """The periodic callback: prints, then schedules itself again."""
    print(f"[stats] {len(state.connections)} connection(s), "
          f"{len(state.store)} key(s), {state.commands} command(s)")
    state.stats_timer = loop.call_later(STATS_EVERY, report_stats, loop, state)


class KVServer:
    """A started server: listening, printing stats, signal handlers set."""

    def __init__(self, server, state, stop, addr):
        self.server, self.state, self.stop, self.addr = server, state, stop, addr

    async def serve_until_signal(self):
        sig = await self.stop
        print(f"[server] got {sig.name}: shutting down")
        self.server.close()
        for transport in list(self.state.connections.values()):
            transport.close()
        await self.server.wait_closed()
        self.state.stats_timer.cancel()
        loop = self.server.get_loop()
        for s in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(s)
        print("[server] closed")


def on_signal(stop, sig):
    if not stop.done():
        stop.set_result(sig)


async def start_server(host, port):
    loop = asyncio.get_running_loop()
    state = State()
    # The protocol factory: called once per accepted connection.
    server = await loop.create_server(lambda: KVProtocol(loop, state), host, port)
    addr = server.sockets[0].getsockname()[:2]
    print(f"[server] serving on {addr[0]}:{addr[1]}")
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, stop, sig)
    report_stats(loop, state)
    return KVServer(server, state, stop, addr)


# ------------------------------------------------------------------ client

class KVClient(asyncio.Protocol):
    """Splits replies into lines and queues them; None marks the end."""

    def __init__(self, replies):
        self.replies = replies
        self.buf = b""

    def connection_lost(self, exc):
        self.replies.put_nowait(None)

    def data_received(self, data):
        self.buf += data
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            self.replies.put_nowait(raw.decode(errors="replace").strip())


class Conn:
    def __init__(self, transport, replies):
        self.transport, self.replies = transport, replies

    @classmethod
    async def open(cls, addr):
        loop = asyncio.get_running_loop()
        replies = asyncio.Queue()
        transport, _protocol = await loop.create_connection(
            lambda: KVClient(replies), addr[0], addr[1])
        return cls(transport, replies)

    async def reply(self):
        async with asyncio.timeout(5):
            return await self.replies.get()

    async def expect(self, line, expected):
        self.transport.write(f"{line}\n".encode())
        reply = await self.reply()
        print(f"[client] {line!r} -> {reply!r}")
        if reply != expected:
            raise RuntimeError(f"{line!r}: expected {expected!r}, got {reply!r}")


async def run_client(addr):
    loop = asyncio.get_running_loop()
    conn = await Conn.open(addr)
    await conn.expect("SET greeting hello from asyncio", "OK")
    await conn.expect("GET greeting", "VALUE hello from asyncio")
    await conn.expect("GET nothing", "NOT_FOUND")
    await conn.expect("FROB", "ERROR unknown command")
    await conn.expect("QUIT", "BYE")
    extra = await conn.reply()
    if extra is not None:
        raise RuntimeError(f"after QUIT: unexpected {extra!r}")
    print("[client] the server closed the connection after QUIT")

    # A second connection sees the same store, then stays silent.
    conn = await Conn.open(addr)
    await conn.expect("GET greeting", "VALUE hello from asyncio")
    silent_since = loop.time()
    bye = await conn.reply()
    end = await conn.reply()
    if bye != "BYE idle" or end is not None:
        raise RuntimeError(f"idle close: got {bye!r} then {end!r}")
    print(f"[client] idle connection closed by the server after "
          f"{loop.time() - silent_since:.3f}s")


# -------------------------------------------------------------------- main

async def demo():
    loop = asyncio.get_running_loop()
    kv = await start_server("127.0.0.1", 0)
    server = loop.create_task(kv.serve_until_signal())
    await run_client(kv.addr)
    print("[demo] sending SIGTERM to ourselves")
    os.kill(os.getpid(), signal.SIGTERM)
    await server


async def serve(addr):
    kv = await start_server(*addr)
    await kv.serve_until_signal()


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def main(args):
    sys.stdout.reconfigure(line_buffering=True)
    match args:
        case []:
            asyncio.run(demo())
        case ["--serve", addr]:
            asyncio.run(serve(parse_addr(addr)))
        case ["--client", addr]:
            asyncio.run(run_client(parse_addr(addr)))
        case _:
            sys.exit("usage: kv_server.py [--serve ADDR | --client ADDR]")


if __name__ == "__main__":
    main(sys.argv[1:])
