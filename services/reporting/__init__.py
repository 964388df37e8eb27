"""reporting: the raw event log and the read models built from it."""
