"""An asyncio streams client driving the test protocol of streams_python.rs
against a tulip server on 127.0.0.1:<argv[1]>; prints "ok" when every reply
was right (see stream_server.py for the commands)."""
import asyncio
import sys


def summary(data):
    return b"%d %d\n" % (len(data), sum(data) % (2**32))


async def main():
    port = int(sys.argv[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    writer.write(b"LINE hello tulip\n")
    await writer.drain()
    assert await reader.readline() == b"HELLO TULIP\n"

    # A blob far over the server's reader limit: it pauses and resumes.
    blob = bytes((i * 13) % 256 for i in range(3_000_000))
    writer.write(b"BLOB %d\n" % len(blob))
    writer.write(blob)
    await writer.drain()
    assert await reader.readline() == summary(blob)

    writer.write(b"SEND 2000000\n")
    await writer.drain()
    got = await reader.readexactly(2_000_000)
    assert got == bytes(i % 251 for i in range(2_000_000))

    writer.write(b"UNTIL\n")
    assert await reader.readuntil(b"\r\n") == b"part1\r\n"
    assert await reader.readuntil(b"|") == b"part2|"
    assert await reader.readuntil(b";") == b"part3;"

    # Lines in many small writes: the server reassembles them.
    for ch in b"LINE split\n":
        writer.write(bytes([ch]))
        await writer.drain()
    assert await reader.readline() == b"SPLIT\n"

    writer.write(b"SINK\n")
    tail = b"x" * 100_000
    writer.write(tail)
    writer.write_eof()
    assert await reader.readline() == summary(tail)
    assert await reader.read() == b""
    assert reader.at_eof()
    writer.close()
    await writer.wait_closed()
    print("ok", flush=True)


asyncio.run(asyncio.wait_for(main(), 20))
