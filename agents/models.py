"""Models of the agents app (tenant schema)."""
