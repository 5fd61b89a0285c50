"""An HMA-compatible API (Meta's hasher-matcher-actioner, "OpenMediaMatch"): HMA's routes,
request and response shapes, status codes and ``{"message": ...}`` error bodies over
takedown's banks, indexes, keys and audit log. Mounted by :func:`takedown.api.hma.mount.install`.
"""
