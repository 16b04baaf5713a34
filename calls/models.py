"""Models of the calls app (tenant schema)."""
