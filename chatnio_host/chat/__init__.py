"""Chat concept."""
