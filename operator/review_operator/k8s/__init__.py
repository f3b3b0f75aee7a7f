"""The one place that talks to the Kubernetes client.

The controller's calls (`objects`, `lease`) and the webhook's create go over aiohttp on the event
loop (`aio.AsyncKube`); `reviewjobs` (the webhook's reads and cancel patches) still uses the
official client, which is synchronous, so the webhook runs those calls on its own threads. `client`
loads the configuration both use. API errors are translated once, in `errors`, into a few typed exceptions.
"""
