"""A stand-in Redis for `make demo` on machines without redis-server: fakeredis over TCP.

It speaks the Redis protocol (Lua included, through lupa) but keeps everything in memory,
so a demo on it starts empty every time. Run: `python -m scripts.embedded_redis --port 6379`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from fakeredis import TcpFakeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    args = parser.parse_args(argv)
    server = TcpFakeServer((args.host, args.port), server_type="redis")

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fakeredis listening on {args.host}:{args.port} (in memory, not kept)", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
