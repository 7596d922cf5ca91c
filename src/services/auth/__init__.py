"""Who may do what over HTTP: roles, user accounts and API tokens, login sessions.

* :mod:`roles` -- the four roles and what each may do; a caller as a :class:`Principal`.
* :mod:`hashing` -- passwords through scrypt, tokens through SHA-256 (and why).
* :mod:`accounts` -- users and tokens in one owner-only file, written atomically.
* :mod:`sessions` -- login sessions held by the server, CSRF tokens, login throttling.
"""
