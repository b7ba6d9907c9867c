"""The city's surveillance and privacy policy as code, over the system of record.

This package decides who may be targeted, for how long, and when data must be destroyed: cases
and subjects (P1-P4, P12: ``cases``), registered-individual orders (P5: ``orders``), the durable
purge (``purge``), who may do what (P10, P11, P14: ``access``), sharing (P13: ``disclosure``),
waivers and the searches they allow outside any case (P15: ``waivers``, ``waiver_searches``,
``search_models``), complaints and the transparency report (P17: ``complaints``,
``report``), the audit action names (``actions``) and the tamper-evident audit log (P8, P16:
``audit``). It owns the system of record (SQLAlchemy) and never imports gRPC, FAISS or the
``matcher`` package: when it decides that data must go, it tells the subscribers registered
through :class:`lifecycle.purge_listener.PurgeListener`.
"""
