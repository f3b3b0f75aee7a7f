"""`review-operator review`: one review of a real pull request from a laptop, no cluster.

`command` fetches the pull request from GitHub and runs the review pod's pipeline (`runner`) on it;
`args` holds its arguments (so `--help` loads neither the SDK nor githubkit), `render` its terminal
output. It sits above `runner`: the runner itself never talks to GitHub (an import-linter contract
enforces it).
"""
