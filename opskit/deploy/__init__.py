"""`invoke deploy`: plan, apply, restore, rollback, the deploy record and report, the dev loop."""
