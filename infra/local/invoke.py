"""`python -m infra.local.invoke FUNCTION EVENT` (`make invoke`): run one handler on one event file.

Against the running local cloud's AWS endpoint when it answers (its resources are found, not
recreated), else against a throwaway in-process moto provisioned the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import requests

from infra.local import runtime
from infra.local.cloud import FAKE_CREDENTIALS, LocalCloud
from infra.routes import FAMILIES, WORKERS


def _reachable(endpoint: str) -> bool:
    try:
        requests.get(f"{endpoint}/moto-api/", timeout=1)
    except requests.RequestException:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.invoke", description=__doc__)
    parser.add_argument("function", choices=FAMILIES + WORKERS)
    parser.add_argument("event", type=Path, help="a JSON event file (see events/)")
    parser.add_argument("--aws-endpoint", default="http://localhost:4566")
    args = parser.parse_args(argv)

    os.environ.update(FAKE_CREDENTIALS)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    event = json.loads(args.event.read_text())
    external = args.aws_endpoint if _reachable(args.aws_endpoint) else None
    cloud = LocalCloud(
        gateway_port=0, aws_port=0, aws_endpoint=external, poll=False, schedule=False, quiet=True
    )
    cloud.start()
    try:
        result = runtime.invoke(args.function, event)
    finally:
        cloud.stop()
    json.dump(result, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
