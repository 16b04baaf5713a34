"""Models of the knowledge app (tenant schema)."""
