"""Plugin tests run on their own: SQLite, in-process state, fake search services on 127.0.0.1."""
