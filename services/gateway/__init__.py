"""gateway: the single public HTTP entry, API tokens, staff users and the UI."""
