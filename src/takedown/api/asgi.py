"""The ASGI entry point for uvicorn's multi-worker mode: settings come from the environment
and ``takedown.toml``, exactly as for `takedown serve`."""

from __future__ import annotations

from fastapi import FastAPI

from takedown.api.app import create_app
from takedown.config import load_settings


def app() -> FastAPI:
    return create_app(load_settings())
