"""The CLI side of the CODITECT cloud: accounts, credentials, licences and feature gating.

- ``api``: the one HTTP boundary (httpx): requests, error translation, token refresh.
- ``credentials``: sign-in tokens and licence keys, in the OS keyring or a 0600 file.
- ``account``: register, sign in and out, who am I, sessions, password reset.
- ``fingerprint``: this machine's id, as an HMAC (never the raw OS id).
- ``licence_cache``: the cached signed answers and offline file, and the pinned key.
- ``licence_check``: judging the cached statements offline (signatures, TTL, grace).
- ``licensing``: activation, status, renewal, ``require_feature``/``requires_feature``.
- ``plans``: the plan catalogue, to name the plan that includes a feature.
- ``files``: private files of the user dir (0600, atomic).

Nothing here is imported by ``coditect --help``; docs/account.md is the user guide.
"""
