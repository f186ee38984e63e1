"""asyncio TLS client: sends N messages of SIZE bytes to 127.0.0.1:PORT and
checks the echo. Usage: tls_echo_client.py PORT CAFILE N SIZE [tls12|tls13]"""
import asyncio
import ssl
import sys


async def main():
    port, cafile, n, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = ssl.create_default_context(cafile=cafile)
    if len(sys.argv) > 5:
        v = ssl.TLSVersion.TLSv1_2 if sys.argv[5] == "tls12" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = v
    r, w = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost"), 10)
    version = w.get_extra_info("ssl_object").version()
    total = 0
    for i in range(n):
        msg = bytes([(i + j) % 251 for j in range(size)])
        w.write(msg)
        got = await asyncio.wait_for(r.readexactly(size), 10)
        assert got == msg, "echo mismatch"
        total += size
    w.close()
    await asyncio.wait_for(w.wait_closed(), 10)
    print("ok", total, version)


asyncio.run(main())
