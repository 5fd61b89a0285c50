"""The audit log: append-only events chained by SHA-256 (tampering is detected by verify)."""
