"""The Volley service: the Django front (pages, JSON API) and the stage pipeline that
runs the engine on uploaded games (runner, queues, recovery). See docs/architecture.md."""
