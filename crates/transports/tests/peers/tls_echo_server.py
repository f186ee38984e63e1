"""asyncio TLS echo server on 127.0.0.1 (prints its port).
Usage: tls_echo_server.py CERT KEY"""
import asyncio
import ssl
import sys


async def handle(r, w):
    while data := await r.read(65536):
        w.write(data)
        await w.drain()
    w.close()


async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Serve one client, then exit.
    async with server:
        await asyncio.wait_for(asyncio.sleep(3600), 20)


try:
    asyncio.run(main())
except asyncio.TimeoutError:
    pass
