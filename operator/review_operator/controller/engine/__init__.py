"""The engine: the reconcile loop, its slot ledger, lanes, leadership and the execution of steps."""
