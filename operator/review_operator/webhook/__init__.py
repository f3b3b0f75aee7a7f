"""The webhook receiver: signed GitHub deliveries become ReviewJobs exactly once.

`signature` verifies HMACs, `events` decides (pure), `ratelimit` guards repositories,
`app` wires them into aiohttp handlers, `server` runs the process.
"""
