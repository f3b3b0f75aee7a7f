"""The one place that talks to the Kubernetes client.

Everything here is synchronous (the official client is); async callers wrap calls in
`asyncio.to_thread`. API errors are translated once, in `errors`, into a few typed exceptions.
"""
