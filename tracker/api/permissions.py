"""Scopes: ``read`` for GET, ``ingest`` for sending usage, ``catalog`` for changing the shared
catalog and its prices, ``write`` for everything else.

A person signed in holds every scope in their teams, except ``catalog``: for that they need the
Django permission the view names (``django_permissions``), as in the admin."""

from __future__ import annotations

from rest_framework import permissions

from .authentication import get_caller


def required_scope(request, view) -> str:
    scopes = getattr(view, "scopes", {})
    if request.method in scopes:
        return scopes[request.method]
    return "read" if request.method in permissions.SAFE_METHODS else "write"


class HasScope(permissions.BasePermission):
    """Authenticated, and holding the scope the view asks for this method."""

    code = "permission_denied"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        scope = required_scope(request, view)
        caller = get_caller(request)
        if scope == "catalog" and caller.api_key is None:
            permission = view.django_permissions[request.method]
            if request.user.has_perm(permission):
                return True
            self.message = f"This account lacks the '{permission}' permission."
            self.code = "missing_permission"
            return False
        if scope in caller.scopes:
            return True
        who = "API key" if caller.api_key is not None else "account"
        self.message = f"This {who} lacks the '{scope}' scope."
        self.code = "missing_scope"
        return False
