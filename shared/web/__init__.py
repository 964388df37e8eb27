"""The web base: app factory, problems, auth, lists, writes, metrics, admin."""
