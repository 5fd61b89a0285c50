"""Who may do what: API keys and staff tokens (stored hashed), staff accounts, roles, scopes."""
