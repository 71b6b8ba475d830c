"""Plan: pure functions from a cell to what runs it (placement, Dockerfiles, base recipes, the probe protocol)."""
