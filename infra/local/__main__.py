"""`python -m infra.local` (`make run`): start the local cloud and serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

from infra.local.cloud import FAKE_CREDENTIALS, LocalCloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--gateway-port", type=int, default=8080, help="HTTP gateway port (default 8080)")
    parser.add_argument("--aws-port", type=int, default=4566, help="moto (AWS endpoint) port (default 4566)")
    parser.add_argument("--console-port", type=int, default=8000, help="web console port (default 8000)")
    parser.add_argument("--no-console", action="store_true", help="do not serve the web console")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--quiet", action="store_true", help="no request log lines")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # This process is the local cloud: never reach real AWS, whatever the shell exports.
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

    advertised = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "localhost") else args.host  # noqa: S104
    cloud = LocalCloud(
        host=args.host,
        gateway_port=args.gateway_port,
        aws_port=args.aws_port,
        advertised_host=advertised,
        quiet=args.quiet,
        console_port=None if args.no_console else args.console_port,
    )
    # A flag, not an Event: a handler taking the Event's lock while the main thread holds it deadlocks.
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: signals.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: signals.append(signum))
    try:
        cloud.start()
    except OSError as exc:
        print(f"cannot start the local cloud: {exc}", file=sys.stderr)
        cloud.stop()
        return 1
    print(
        f"local cloud ready in {cloud.startup_seconds:.1f}s\n{cloud.describe()}\nCtrl-C to stop", flush=True
    )
    try:
        while not signals:
            time.sleep(0.2)
    finally:
        print("stopping the local cloud ...", file=sys.stderr, flush=True)
        cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
