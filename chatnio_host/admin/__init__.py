"""Admin concept."""
