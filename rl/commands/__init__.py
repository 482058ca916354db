"""The `rl` command's verbs that need more than a few lines; rl/cli.py parses and dispatches.
This layer may use agents/ and envs/; the core (the rest of rl/) never imports it."""
