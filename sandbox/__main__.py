"""`python -m sandbox`: run the Vtiger sandbox in the foreground, one log line per request."""

import argparse
import sys
from datetime import date

from sandbox import DEFAULT_SEED, DEMO_ACCESS_KEY, DEMO_USERNAME
from sandbox.controls import SWITCHES
from sandbox.server import SandboxServer


def _switch_argument(parser, switch):
    flag = "--" + switch.name.replace("_", "-")
    if switch.kind is bool:
        parser.add_argument(flag, action="store_true", default=None, help=switch.help)
        return
    metavar = "N" if switch.kind is int else "X"
    parser.add_argument(flag, type=switch.kind, default=None, metavar=metavar, help=switch.help)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Run the Vtiger CRM sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001; 0 picks one)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"data seed (default {DEFAULT_SEED})")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="the data's today, YYYY-MM-DD")
    parser.add_argument("--scale", type=int, default=1, help="multiply every module's record count (default 1)")
    parser.add_argument("--quiet", action="store_true", help="don't log requests")
    for switch in SWITCHES.values():
        _switch_argument(parser, switch)
    args = parser.parse_args(argv)

    switches = {name: getattr(args, name) for name in SWITCHES if getattr(args, name) is not None}
    try:
        server = SandboxServer(
            args.host, args.port, args.seed, args.today, log_requests=not args.quiet, scale=args.scale, **switches
        )
        server.start()
    except (OSError, ValueError) as problem:
        print(f"sandbox: {problem}", file=sys.stderr)
        return 2
    print(f"Vtiger sandbox on {server.url} (seed {args.seed}, today {server.dataset.today})", flush=True)
    print(f"  Cloud REST:   {server.rest_url}", flush=True)
    print(f"  Self-hosted:  {server.webservice_url}", flush=True)
    print(f"  Credentials:  username {DEMO_USERNAME}, access key {DEMO_ACCESS_KEY}", flush=True)
    print(f"  Control:      {server.url}/_sandbox/config, /_sandbox/reset, /_sandbox/stats", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
