"""Plugin tests run on their own: SQLite and in-process state, no other plugin installed."""
