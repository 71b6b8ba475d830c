"""Run: sequencing a plan on the host (build, probe, schedule, reuse, shards, the index preflight)."""
