"""The HTTP edge: FastAPI app, /v1 platform API, operations endpoints."""
