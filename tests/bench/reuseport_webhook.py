"""`review-operator webhook` with SO_REUSEPORT, for the benchmark only: several replicas then share one
port and the kernel spreads connections between them, as a Service spreads them between pods."""

from __future__ import annotations

import functools
import sys

from aiohttp import web

from review_operator import cli

if __name__ == "__main__":
    web.run_app = functools.partial(web.run_app, reuse_port=True)
    sys.exit(cli.main(["webhook"]))
