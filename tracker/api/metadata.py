"""OPTIONS answers with what the endpoint is and what it speaks; the schema has the rest."""

from __future__ import annotations

from rest_framework.metadata import BaseMetadata


class BriefMetadata(BaseMetadata):
    def determine_metadata(self, request, view) -> dict:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "schema": "/api/v1/schema/",
        }
