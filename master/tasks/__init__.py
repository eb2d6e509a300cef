"""Tasks: ad-hoc commands and modules' tasks run on groups of nodes as a given account.

``store`` keeps tasks and each node's run (claims, limits, idempotency, expiry, results); ``modules``
finds a module's task and checks its parameters; ``dispatch`` sends each master's runs down its live
channels; ``service`` holds the policy and the use cases the gRPC API calls; ``ops`` is the operator's
side (the CLI's calls and text).
"""
