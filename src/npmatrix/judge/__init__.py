"""Judge: pure verdicts from what a cell left behind (facts, classification, build logs, advice, peak)."""
