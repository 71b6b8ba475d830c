"""App: what each command does, returning an exit code; the command line (cli) only parses and calls it."""
