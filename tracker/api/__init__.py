"""The REST API under ``/api/v1/``: thin views over ``tracker.services`` and ``tracker.selectors``.

Access (``authentication``, ``permissions``, ``throttling``), the error envelope (``errors``),
input/output shapes (``serializers``), and the OpenAPI schema's additions (``schema``).
"""
