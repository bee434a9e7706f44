"""Auth concept."""
