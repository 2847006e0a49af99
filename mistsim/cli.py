"""Command line: `python -m mistsim --port 8443 --gateways 200 --sites 100 ...`."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from mistsim.api import MistApi
from mistsim.generator import OrgOptions, generate
from mistsim.msp import MspFront, generate_msp
from mistsim.privileges import parse_user_tokens
from mistsim.runtime import Runtime
from mistsim.server import build_server, tls_context


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mistsim",
        description="A local stand-in for the Juniper Mist cloud: a deterministic synthetic "
        "org served over HTTPS with Mist's pagination, rate limits and failure modes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Test controls (no auth, never counted): GET /__mistsim/calls, POST "
        "/__mistsim/reset, GET|POST /__mistsim/faults, GET /__mistsim/org, POST "
        "/__mistsim/clock {advance}, POST /__mistsim/reboot {mac}, POST /__mistsim/config "
        "{mac, description}. See mistsim/README.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8443, help="TCP port; 0 picks a free one")
    p.add_argument("--sites", type=int, default=100, help="number of sites (the first is the DC)")
    p.add_argument("--gateways", type=int, default=200, help="number of gateways, hubs included")
    p.add_argument("--seed", type=int, default=1, help="seed: same seed, same org")
    p.add_argument(
        "--tokens",
        default=os.environ.get("MISTSIM_TOKENS") or "sim-token",
        help="comma-separated API tokens the simulator accepts (default: $MISTSIM_TOKENS, "
        "else sim-token; the environment keeps a real-looking token out of `ps`)",
    )
    p.add_argument(
        "--msp-tokens",
        default=os.environ.get("MISTSIM_MSP_TOKENS") or "",
        help="comma-separated API tokens scoped to the orgs' MSP: /self lists the MSP, "
        "GET /msps/{msp_id}/orgs lists every org (see --orgs), and they read every org "
        "(default: $MISTSIM_MSP_TOKENS, kept out of `ps` like --tokens)",
    )
    p.add_argument(
        "--user-tokens",
        default="",
        help="user tokens with mixed privileges, listed by /self in the order given: "
        "TOKEN=PRIV[+PRIV...] entries separated by commas, PRIV being org:N, site:N or msp "
        "with an optional :ROLE (N counts the orgs of --orgs from 1; e.g. "
        "'alice=site:2+org:1,bob=site:1:admin'); see mistsim/privileges.py",
    )
    p.add_argument(
        "--ca-file", default="mistsim-ca.pem", help="where to write the CA certificate (PEM)"
    )
    p.add_argument(
        "--rate-limit", type=int, default=5000, help="API calls per token per clock hour"
    )
    p.add_argument(
        "--retry-after",
        type=int,
        default=None,
        help="seconds to send in Retry-After with a 429 (header omitted when unset)",
    )
    p.add_argument("--latency-ms", type=float, default=0, help="added delay per API call")
    p.add_argument("--jitter-ms", type=float, default=0, help="extra random delay, 0..N ms")
    p.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of API calls answered with 5xx"
    )
    p.add_argument(
        "--edge-cases",
        action="store_true",
        help="hostile/unicode/200-char names, an empty site, a gateway without WAN ports, "
        "stats lacking optional fields",
    )
    p.add_argument("--wan-ports-min", type=int, default=2, help="fewest WAN ports per branch")
    p.add_argument("--wan-ports-max", type=int, default=4, help="most WAN ports per branch")
    p.add_argument("--peer-paths", type=int, default=6, help="VPN peer paths per spoke gateway")
    p.add_argument(
        "--orgs", type=int, default=1, help="orgs the tokens can see (only the first has data)"
    )
    p.add_argument(
        "--spread-orgs",
        action="store_true",
        help="spread --gateways over the --orgs orgs of one MSP (long-tailed: a few big orgs, "
        "many small), each org a network of its own; without it only the first org has data",
    )
    p.add_argument(
        "--insights-shape",
        choices=["keyed", "results"],
        default="keyed",
        help="multi-metric insights: one array per metric (keyed) or 400 (results: "
        "one metric per call, as the spec declares)",
    )
    return p


def _check(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    """Exit 2 naming the setting, like every other command in this project."""
    checks = [
        (0 <= args.port <= 65535, "--port must be between 0 and 65535"),
        (args.sites >= 1, "--sites must be at least 1"),
        (args.gateways >= 0, "--gateways must not be negative"),
        (args.rate_limit >= 1, "--rate-limit must be at least 1"),
        (args.retry_after is None or args.retry_after >= 0, "--retry-after must be >= 0"),
        (args.latency_ms >= 0 and args.jitter_ms >= 0, "--latency-ms/--jitter-ms must be >= 0"),
        (0 <= args.error_rate <= 1, "--error-rate must be between 0 and 1"),
        (args.wan_ports_min >= 0, "--wan-ports-min must not be negative"),
        (args.wan_ports_max >= args.wan_ports_min, "--wan-ports-max must be >= --wan-ports-min"),
        (args.wan_ports_max <= 12, "--wan-ports-max must be at most 12"),
        (args.peer_paths >= 0, "--peer-paths must not be negative"),
        (args.orgs >= 1, "--orgs must be at least 1"),
        (bool(_tokens(args.tokens)), "--tokens must name at least one token"),
        (
            not set(_tokens(args.tokens)) & set(_tokens(args.msp_tokens)),
            "--msp-tokens must not repeat a token of --tokens",
        ),
    ]
    for ok, message in checks:
        if not ok:
            p.error(message)
    try:
        users = parse_user_tokens(args.user_tokens, args.orgs)
    except ValueError as error:
        p.error(str(error))
    if set(users) & {*_tokens(args.tokens), *_tokens(args.msp_tokens)}:
        p.error("--user-tokens must not repeat a token of --tokens or --msp-tokens")


def _tokens(text: str) -> list[str]:
    return [token.strip() for token in text.split(",") if token.strip()]


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    _check(args, p)
    options = OrgOptions(
        sites=args.sites,
        gateways=args.gateways,
        seed=args.seed,
        wan_ports_min=args.wan_ports_min,
        wan_ports_max=args.wan_ports_max,
        peer_paths=args.peer_paths,
        orgs=args.orgs,
        edge_cases=args.edge_cases,
    )
    gc.disable()  # generation allocates ~10 objects per port; collecting midway is wasted work
    orgs = (
        generate_msp(options, time.time()) if args.spread_orgs else [generate(options, time.time())]
    )
    org = orgs[0]
    gc.enable()
    gc.collect()
    gc.freeze()  # the org is immortal: keep the collector from re-scanning it on every request
    msp_tokens = _tokens(args.msp_tokens)
    user_tokens = parse_user_tokens(args.user_tokens, args.orgs)
    runtime = Runtime(
        tokens=[*_tokens(args.tokens), *msp_tokens, *user_tokens],
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        faults={
            "latency_ms": args.latency_ms,
            "jitter_ms": args.jitter_ms,
            "error_rate": args.error_rate,
        },
    )
    apis = [
        MistApi(
            one,
            runtime,
            insights_keyed=args.insights_shape == "keyed",
            msp_tokens=msp_tokens,
            user_tokens=user_tokens if one is org else None,
        )
        for one in orgs
    ]
    apis[0].msp_orgs = {one.id: one for one in orgs}
    app = MspFront(apis) if len(apis) > 1 else apis[0]
    ca_file = Path(args.ca_file).resolve()
    try:
        context = tls_context(ca_file, args.host)
    except OSError as error:
        print(f"mistsim: --ca-file {ca_file} cannot be written: {error}", file=sys.stderr)
        return 2
    try:
        server = build_server(args.host, args.port, app, context)
    except OSError as error:
        print(f"mistsim: --host/--port {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host = args.host if ":" not in args.host else f"[{args.host}]"
    print(
        f"mistsim ready host={host}:{server.server_port} org_id={org.id} ca={ca_file}", flush=True
    )
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0
