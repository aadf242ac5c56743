"""aiohttp: a server middleware for `aiohttp.web` and a client `TraceConfig`.

>>> app = web.Application(); instrument_app(app, service_name="orders")  # doctest: +SKIP
>>> session = aiohttp.ClientSession(trace_configs=[trace_config()])  # doctest: +SKIP
"""

from raceway.integrations.aiohttp.client import trace_config
from raceway.integrations.aiohttp.server import (
    add_response_headers,
    aiohttp_middleware,
    instrument_app,
)

__all__ = ["add_response_headers", "aiohttp_middleware", "instrument_app", "trace_config"]
