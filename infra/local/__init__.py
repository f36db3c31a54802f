"""The local cloud: the whole system on one machine, on moto, with no AWS account and no Docker.

`python -m infra.local` (`make run`) starts it; tests use `LocalCloud` in-process on free ports.
"""

from infra.local.cloud import LocalCloud

__all__ = ["LocalCloud"]
