"""One small handler per MODE; each talks to the engine protocol only."""
