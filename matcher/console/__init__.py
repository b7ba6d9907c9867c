"""The web console: HTML pages for investigators, supervisors, alert operators and auditors.

A separate process (``matcher console``) in front of the gRPC service. It holds no data of its
own and no credential of its own: each person signs in with theirs, and every page is made of
calls the service authorises, validates and audits as that person, through the public client
(``matcher.client``). What it keeps, in memory only, is the session (``sessions.py``).

Credentials. With bearer tokens, the console keeps the person's token in the session and sends it
on the console's one channel to the service. Under mutual TLS the service names callers by their
client certificate, so the console cannot act for a person with a certificate of its own: the
person uploads their certificate and key at sign-in, and the console builds that session's own
gRPC channel from them, in memory (never written to disk), closed when the session ends. The key
then passes through the console's memory; run the console on a host as trusted as the service's,
serve it over HTTPS (``--tls-cert``), and prefer short-lived client certificates. A delegation
scheme (the console's certificate plus a signed assertion of the person) would need the service
to trust the console, which it does not today.

Modules: ``web`` (configuration, security headers, sessions in requests, rendering), ``pages``
(one module per kind of user), ``forms`` (bounded, in-memory form reading), ``photos`` (boxes
drawn on the photo sent back), ``refusals`` (every refusal in plain words), ``charts`` (inline
SVG), ``transparency`` (the public page), ``app`` (assembly, serving, publishing).
"""
