"""An asyncio streams server speaking the test protocol of
streams_python.rs. Prints its port, serves CONNECTIONS connections (argv[1],
default 1), then exits.

Commands, one per line:
  LINE <text>  -> <TEXT>\\n                      (readline + write)
  BLOB <n>     -> reads n bytes, replies "<n> <sum>\\n" (readexactly)
  SEND <n>     -> writes n bytes, byte i = i % 251 (drain)
  UNTIL        -> writes b"part1\\r\\npart2|part3;"
  SINK         -> reads to EOF, replies "<n> <sum>\\n", closes
  BYE          -> replies "bye\\n", closes
"""
import asyncio
import sys


def summary(data):
    return b"%d %d\n" % (len(data), sum(data) % (2**32))


async def handle(reader, writer, done):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd, _, arg = line.strip().partition(b" ")
            if cmd == b"LINE":
                writer.write(arg.upper() + b"\n")
            elif cmd == b"BLOB":
                writer.write(summary(await reader.readexactly(int(arg))))
            elif cmd == b"SEND":
                n = int(arg)
                writer.write(bytes(i % 251 for i in range(n)))
            elif cmd == b"UNTIL":
                writer.write(b"part1\r\npart2|part3;")
            elif cmd == b"SINK":
                writer.write(summary(await reader.read()))
                break
            elif cmd == b"BYE":
                writer.write(b"bye\n")
                break
            else:
                writer.write(b"unknown command\n")
            await writer.drain()
        await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
        done.release()


async def main():
    connections = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    done = asyncio.Semaphore(0)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, done), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    for _ in range(connections):
        await asyncio.wait_for(done.acquire(), 20)
    server.close()
    await server.wait_closed()


asyncio.run(main())
