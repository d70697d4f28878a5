"""CSV for the tune list: ``?format=csv`` (or ``Accept: text/csv``) streams every matching tune."""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.renderers import BaseRenderer

from tracker.selectors.export import tune_csv_lines


class CSVRenderer(BaseRenderer):
    """Lets content negotiation pick CSV; the list view streams the body itself and answers
    errors in JSON, so nothing else is ever rendered here."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b"" if data is None else json.dumps(data, default=str).encode()


def tune_csv_response(queryset) -> StreamingHttpResponse:
    response = StreamingHttpResponse(tune_csv_lines(queryset), content_type="text/csv")
    name = f"tunefolio-tunes-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
