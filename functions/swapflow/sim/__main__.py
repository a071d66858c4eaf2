"""`python -m swapflow.sim akool|wavespeed --port N [--fault NAME ...]`: run one simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from swapflow.sim.akool import AkoolSimulator
from swapflow.sim.common import FAULTS, BaseSimulator, print_banner, stop_signal, wait_forever
from swapflow.sim.wavespeed import WaveSpeedSimulator


def main(argv: list[str] | None = None, prog: str = "python -m swapflow.sim") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Run a provider simulator on loopback until Ctrl-C.")
    parser.add_argument("provider", choices=["akool", "wavespeed"])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    parser.add_argument("--fault-count", type=int, default=2, help="requests hit by burst_5xx/rate_limit")
    parser.add_argument("--processing-seconds", type=float, default=0.5)
    parser.add_argument("--api-key", default="sim-api-key")
    parser.add_argument("--client-id", default="simclient0000001", help="Akool: 16 bytes (the AES IV)")
    parser.add_argument("--client-secret", default="simsecret0000000simsecret0000000", help="Akool: 16/24/32 bytes")
    parser.add_argument("--webhook-secret", default="whsec_simulator0secret", help="WaveSpeed")
    args = parser.parse_args(argv)
    options = {
        "faults": frozenset(args.fault),
        "processing_seconds": args.processing_seconds,
        "port": args.port,
        "fault_count": args.fault_count,
    }
    sim: BaseSimulator
    if args.provider == "akool":
        sim = AkoolSimulator(
            api_key=args.api_key, client_id=args.client_id, client_secret=args.client_secret, **options
        )
        credentials = {
            "SWAPFLOW_AKOOL_API_KEY": args.api_key,
            "SWAPFLOW_AKOOL_CLIENT_ID": args.client_id,
            "SWAPFLOW_AKOOL_CLIENT_SECRET": args.client_secret,
        }
    else:
        sim = WaveSpeedSimulator(api_key=args.api_key, webhook_secret=args.webhook_secret, **options)
        credentials = {
            "SWAPFLOW_WAVESPEED_API_KEY": args.api_key,
            "SWAPFLOW_WAVESPEED_WEBHOOK_SECRET": args.webhook_secret,
        }
    done = stop_signal()
    base_url = sim.start()
    prefix = "SWAPFLOW_AKOOL" if args.provider == "akool" else "SWAPFLOW_WAVESPEED"
    print_banner(args.provider, base_url, {f"{prefix}_BASE_URL": base_url, **credentials}, sim.faults)
    wait_forever(sim.stop, done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
