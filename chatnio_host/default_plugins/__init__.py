"""Host behaviour written as hook implementations, loaded before any installed plugin."""
