"""Present: what people read (the table, explain, diff, the reports)."""
