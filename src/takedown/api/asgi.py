"""The ASGI entry point for uvicorn's multi-worker mode: settings come from the environment
and ``takedown.toml``, exactly as for `takedown serve`."""

from __future__ import annotations

from fastapi import FastAPI

from takedown.api.app import create_app
from takedown.api.state import AppState
from takedown.config import load_settings


def app() -> FastAPI:
    application = create_app(load_settings())
    state: AppState = application.state.takedown
    state.hashing.warm()  # the first uploads must not wait for the hashing processes
    return application
