"""The city's surveillance and privacy policy as code.

This package decides who may be targeted, for how long, and when biometric data must be
destroyed (rules P1-P4, P8, P16 of the policy). It owns the system of record (SQLAlchemy) and the
audit log, and it never imports gRPC, FAISS or the ``matcher`` package: when it decides that data
must go, it tells the subscribers registered through :class:`lifecycle.purge.PurgeListener`.
"""
