"""`LocalCloud`: moto + provisioning + gateway + SQS poller + in-process Lambda tasks + local scheduler."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.local import moto_patches
from infra.local.console import ConsoleServer
from infra.local.executions import ExecutionWatcher, RunSweeper
from infra.local.gateway import INTEGRATION_TIMEOUT_SECONDS, Gateway
from infra.local.poller import SqsPoller
from infra.local.provision import ASL_PATH, LocalConfig, Provisioned, Provisioner, load_config
from infra.local.scheduler import Clock, LocalScheduler, utc_now
from infra.local.stepfunctions import InProcessLambdas, name_unnamed_executions

log = logging.getLogger("infra.local")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ensure_free(host: str, port: int) -> None:
    """Raise OSError (address in use) now rather than inside a server thread."""
    with socket.socket() as s:
        s.bind((host, port))


class LocalCloud:
    """The whole system in this process; `start()` provisions and serves, `stop()` shuts it down.

    Pass `aws_endpoint` to reuse a running in-process moto server (tests), or ports (0 = a free one);
    `integration_timeout` is the gateway's (API Gateway's 30 s by default).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        gateway_port: int = 8080,
        aws_port: int = 4566,
        aws_endpoint: str | None = None,
        advertised_host: str | None = None,
        env_name: str = "local",
        region: str = "us-east-1",
        config: LocalConfig | None = None,
        asl_path: Path | None = ASL_PATH,
        asl_definition: str | None = None,
        poll: bool = True,
        schedule: bool = True,
        scheduler_interval: float = 5.0,
        clock: Clock = utc_now,
        quiet: bool = False,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        console_port: int | None = None,
    ) -> None:
        self.host = host
        self.advertised_host = advertised_host or host
        self.gateway_port = gateway_port or free_port(host)
        self.aws_port = aws_port or free_port(host)
        self._external_endpoint = aws_endpoint
        self.env_name = env_name
        self.region = region
        self.config = config or load_config(env_name)
        # The console (None: not served; 0: a free port) is a cross-origin client of the gateway and of
        # S3 (presigned uploads): its origin is one of the environment's CORS origins.
        self.console_port = free_port(host) if console_port == 0 else console_port
        if self.console_port is not None and self.console_url not in self.config.cors_origins:
            self.config = replace(self.config, cors_origins=(*self.config.cors_origins, self.console_url))
        self.console: ConsoleServer | None = None
        self.asl_path = asl_path
        self.asl_definition = asl_definition
        self.poll = poll
        self.schedule = schedule
        self.scheduler_interval = scheduler_interval
        self.clock = clock
        self.quiet = quiet
        self.integration_timeout = integration_timeout
        self.moto_server: Any = None
        self.gateway: Gateway | None = None
        self.poller: SqsPoller | None = None
        self.scheduler: LocalScheduler | None = None
        self.lambdas: InProcessLambdas | None = None
        self.watcher: ExecutionWatcher | None = None
        self.sweeper: RunSweeper | None = None
        self.resources: Provisioned | None = None
        self.env: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}
        self.startup_seconds = 0.0

    # Attributes tests and the console read -------------------------------------------------------
    @property
    def aws_endpoint(self) -> str:
        if self._external_endpoint:
            return self._external_endpoint.rstrip("/")
        return f"http://{self.advertised_host}:{self.aws_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.advertised_host}:{self.gateway_port}"

    @property
    def console_url(self) -> str:
        return f"http://{self.advertised_host}:{self.console_port}"

    def _res(self) -> Provisioned:
        if self.resources is None:
            raise RuntimeError("LocalCloud is not started")
        return self.resources

    bucket = property(lambda self: self._res().bucket)
    queue_url = property(lambda self: self._res().queue_url)
    dlq_url = property(lambda self: self._res().dlq_url)
    user_pool_id = property(lambda self: self._res().user_pool_id)
    client_id = property(lambda self: self._res().client_id)
    state_machine_arn = property(lambda self: self._res().state_machine_arn)
    scheduler_group = property(lambda self: self._res().scheduler_group)

    # Life cycle ------------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        started = time.perf_counter()
        self._start_aws()
        self._provision()
        self._start_servers()
        self._start_workers()
        self.startup_seconds = time.perf_counter() - started
        return self

    def _start_aws(self) -> None:
        """The AWS endpoint: moto in a thread (unless an external one is given), with fake credentials."""
        for name, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        os.environ.setdefault("AWS_DEFAULT_REGION", self.region)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines; ours suffice
        moto_patches.apply()  # where moto differs from AWS in ways the local cloud cannot accept
        if self.console_port is not None:
            ensure_free(self.host, self.console_port)
        if not self._external_endpoint:
            from moto.server import ThreadedMotoServer

            ensure_free(
                self.host, self.aws_port
            )  # moto's thread would die on a taken port, start() would hang

            self.moto_server = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
            self.moto_server.start()
        # moto's Step Functions parser calls other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(urlsplit(self.aws_endpoint).port or 80)

    def _provision(self) -> None:
        """The environment's resources on the endpoint, and their names in this process's environment."""
        self.resources = Provisioner(
            self.aws_endpoint, self.env_name, self.region, self.config, self.asl_path, self.asl_definition
        ).run()
        self.env = {**self.resources.env, "MOTO_PORT": os.environ["MOTO_PORT"]}
        self._saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        from functions.core.settings import get_settings

        get_settings.cache_clear()

    def _start_servers(self) -> None:
        """The functions (in process), the API gateway and the console's static server."""
        name_unnamed_executions()
        self.lambdas = InProcessLambdas(self.env_name, self.region)
        self.lambdas.install()
        self.gateway = Gateway(
            self.host,
            self.gateway_port,
            self.config.cors_origins,
            self.config.cors_max_age,
            self.env_name,
            self.region,
            quiet=self.quiet,
            integration_timeout=self.integration_timeout,
        )
        self.gateway.start()
        if self.console_port is not None:
            self.console = self._console_server()
            self.console.start()

    def _start_workers(self) -> None:
        """The stand-ins of AWS's triggers: the ingest queue's poller, the EventBridge rule, the run sweeper's
        schedule and EventBridge Scheduler."""
        res = self._res()
        if self.poll:
            self.poller = SqsPoller(
                res.queue_url,
                res.queue_arn,
                self.aws_endpoint,
                env_name=self.env_name,
                region=self.region,
            )
            self.poller.start()
        if res.state_machine_arn:
            # The EventBridge rule's stand-in: failed, aborted and timed-out executions end their runs.
            self.watcher = ExecutionWatcher(
                self.aws_endpoint, res.state_machine_arn, self.env_name, self.region
            )
            self.watcher.start()
            # The run sweeper's schedule, on the local clock.
            self.sweeper = RunSweeper(
                self.config.sweep_grace_minutes * 60,
                self.env_name,
                self.region,
                interval=self.config.sweep_every_minutes * 60,
                clock=self.clock,
            )
            self.sweeper.start()
        if self.schedule:
            self.scheduler = LocalScheduler(
                self.aws_endpoint,
                res.scheduler_group,
                self.region,
                self.scheduler_interval,
                self.clock,
            )
            self.scheduler.start()

    def _console_server(self) -> ConsoleServer:
        """The console's static server, its config.json pointing at this cloud's gateway."""
        res = self._res()
        config = {
            "apiUrl": self.gateway_url,
            "region": self.region,
            "userPoolId": res.user_pool_id,
            "userPoolClientId": res.client_id,
            "environment": self.env_name,
        }
        assert self.console_port is not None
        return ConsoleServer(self.host, self.console_port, config, [self.gateway_url, self.aws_endpoint])

    def stop(self) -> None:
        for part in (self.scheduler, self.sweeper, self.watcher, self.poller, self.console, self.gateway):
            if part is not None:
                part.stop()
        if self.lambdas is not None:
            self.lambdas.uninstall()
        if self.moto_server is not None:
            self.moto_server.stop()
            self.moto_server = None
        # Give the process its environment back (later tests must not reach a stopped endpoint).
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        from functions.core.settings import get_settings

        get_settings.cache_clear()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def describe(self) -> str:
        """The endpoints, as printed by `python -m infra.local` when ready."""
        res = self._res()
        lines = [
            f"gateway        {self.gateway_url}",
            *([f"console        {self.console_url}"] if self.console_port is not None else []),
            f"swagger ui     {self.gateway_url}/docs",
            f"aws endpoint   {self.aws_endpoint}   (export AWS_ENDPOINT_URL={self.aws_endpoint})",
            f"user pool      {res.user_pool_id}   (client {res.client_id})",
            f"data bucket    {res.bucket}",
            f"ingest queue   {res.queue_url}",
            f"state machine  {res.state_machine_arn or '(no ASL file yet)'}",
            f"schedules      group {res.scheduler_group}",
        ]
        return "\n".join(lines)
