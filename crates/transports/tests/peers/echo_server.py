"""An asyncio echo server: prints its port, echoes everything, exits after
the first connection closes."""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def __init__(self, done):
        self.done = done

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        # Returning False closes the transport (after flushing the echo).
        return False

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(None)


async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    server = await loop.create_server(lambda: Echo(done), host, 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    await asyncio.wait_for(done, 10)
    server.close()
    await server.wait_closed()


asyncio.run(main())
