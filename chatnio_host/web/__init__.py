"""HTTP plumbing shared by every router: error rendering and middleware."""
