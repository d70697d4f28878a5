"""The portfolio pages. Each view parses its input and calls selectors (reads) or services
(writes); the numbers are the decision engine's."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tracker.selectors import access, pages
from tracker.services import flags as flag_services

from .forms import FlagActionForm, WhatIfForm


def _tune(request, slug: str):
    tune = access.tune_by_slug(pages.team_ids_for(request.user), slug)
    if tune is None:
        raise Http404("No such tune in your team(s).")
    return tune


@staff_member_required
@require_GET
def overview(request):
    context = pages.overview(pages.team_ids_for(request.user), timezone.localdate())
    return render(request, "portfolio/overview.html", context)


@staff_member_required
@require_GET
def tune(request, slug: str):
    today = timezone.localdate()
    tune = _tune(request, slug)
    context = pages.tune_page(tune, today)
    context["what_if_defaults"] = pages.what_if_defaults(tune, today)
    context["today"] = today
    return render(request, "portfolio/tune.html", context)


@staff_member_required
@require_POST
def what_if(request, slug: str):
    """The engine's verdict with the posted changes; nothing is saved."""
    tune = _tune(request, slug)
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"errors": {"body": ["Send a JSON object."]}}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"errors": {"body": ["Send a JSON object."]}}, status=400)
    form = WhatIfForm(data)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    try:
        outcome = pages.what_if(tune, timezone.localdate(), form.what_if())
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        return JsonResponse({"errors": {field: [{"message": message}]}}, status=400)
    return JsonResponse(outcome)


@staff_member_required
@require_POST
def flag_action(request, flag_id: int):
    flag = access.flag_by_id(pages.team_ids_for(request.user), flag_id)
    if flag is None:
        raise Http404("No such flag in your team(s).")
    form = FlagActionForm(request.POST)
    target = redirect("portfolio:tune", slug=flag.tune.slug)
    if not form.is_valid():
        for field, problems in form.errors.items():
            messages.error(request, f"{field}: {' '.join(map(str, problems))}")
        return target
    data = form.cleaned_data
    try:
        if data["action"] == "acknowledge":
            flag_services.flag_acknowledge(flag=flag, by=request.user, note=data["note"])
            messages.success(request, f"{flag.get_kind_display()} flag acknowledged.")
        else:
            flag_services.flag_snooze(
                flag=flag, until=data["until"], by=request.user, note=data["note"]
            )
            messages.success(
                request, f"{flag.get_kind_display()} flag snoozed until {data['until']}."
            )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return target
