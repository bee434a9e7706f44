"""Files concept."""
