"""asyncio streams with ssl, the peer of streams_tls_python.rs.

  client PORT CAFILE N     open_connection(ssl=ctx, server_hostname="localhost"),
                           sends N lines, expects each upper-cased, closes;
                           prints "ok <N> <TLS version>".
  starttls-server CERT KEY prints its port; serves one connection: greets
                           "220 ready", answers "STARTTLS" with "220 go" and
                           upgrades with StreamWriter.start_tls (3.11), then
                           upper-cases lines until EOF; prints the TLS
                           version it negotiated and exits.
"""
import asyncio
import ssl
import sys


async def client(port, cafile, n):
    ctx = ssl.create_default_context(cafile=cafile)
    r, w = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost"), 10)
    for i in range(n):
        w.write(b"line %d\n" % i)
    await w.drain()
    for i in range(n):
        got = await asyncio.wait_for(r.readline(), 10)
        assert got == b"LINE %d\n" % i, got
    version = w.get_extra_info("ssl_object").version()
    w.close()
    await asyncio.wait_for(w.wait_closed(), 10)
    print("ok", n, version)


async def starttls_server(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done = asyncio.get_running_loop().create_future()

    async def handle(r, w):
        try:
            w.write(b"220 ready\n")
            assert await r.readline() == b"STARTTLS\n"
            w.write(b"220 go\n")
            await w.start_tls(ctx)
            version = w.get_extra_info("ssl_object").version()
            while line := await r.readline():
                w.write(line.upper())
                await w.drain()
            w.close()
            done.set_result(version)
        except Exception as e:  # report, do not hang
            done.set_exception(e)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        print(await asyncio.wait_for(done, 20), flush=True)


if sys.argv[1] == "client":
    asyncio.run(client(int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
else:
    asyncio.run(starttls_server(sys.argv[2], sys.argv[3]))
