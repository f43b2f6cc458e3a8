"""moto's server, in process: an AWS endpoint on loopback that every boto3 client of this process uses."""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

LOCAL_ACCOUNT = "123456789012"  # moto's account: every ARN it returns carries it
LOCAL_REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


@contextmanager
def embedded_aws(region: str = LOCAL_REGION) -> Iterator[str]:
    """Start the emulator on a free loopback port; yield its endpoint URL; restore the environment after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Request logs and moto's notes on resource types its CloudFormation skips would bury the run's output;
    # tools/local/deploy.py deals with those types on purpose.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # a read racing a write fails once; readers retry
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    settings = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield endpoint
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
