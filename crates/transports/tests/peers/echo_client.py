"""An asyncio client: connects to 127.0.0.1:PORT, sends COUNT messages of
SIZE bytes, checks each echo, half-closes, prints 'ok <bytes>'."""
import asyncio
import sys


async def main():
    port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    total = 0
    for i in range(count):
        msg = bytes([(i + j) % 251 for j in range(size)])
        writer.write(msg)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(size), 10)
        assert got == msg, "echo mismatch"
        total += len(got)
    writer.write_eof()
    rest = await asyncio.wait_for(reader.read(), 10)
    assert rest == b"", rest
    writer.close()
    await writer.wait_closed()
    print("ok", total, flush=True)


asyncio.run(main())
