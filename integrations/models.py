"""Models of the integrations app (tenant schema)."""
