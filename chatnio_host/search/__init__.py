"""Search concept."""
