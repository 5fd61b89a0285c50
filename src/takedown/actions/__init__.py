"""Actions the platform must take: the transactional outbox, signed webhooks, delivery."""
