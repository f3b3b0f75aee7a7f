"""The in-pod review runner: a read-only, guarded Claude agent run that ends in a bounded result.

`main` is the entrypoint (`review-operator runner`); `agent` is the only module that imports
claude_agent_sdk; `guard`, `diff`, `review`, `outcome` and `assemble` hold the pure decisions.
Nothing here imports kopf or kubernetes (an import-linter contract enforces it).
"""
