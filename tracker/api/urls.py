"""``/api/v1/``: the routes. Path parameters are matched loosely and checked by the views, so a
malformed one gets the API's 404, not a page."""

from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from . import views

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="tracker/redoc.html"),
        name="api-redoc",
    ),
    path("teams/", views.TeamListView.as_view(), name="api-teams"),
    path("tunes/", views.TuneListView.as_view(), name="api-tunes"),
    path("tunes/<str:slug>/", views.TuneDetailView.as_view(), name="api-tune"),
    path("tunes/<str:slug>/retire/", views.TuneRetireView.as_view(), name="api-tune-retire"),
    path("tunes/<str:slug>/changes/", views.TuneChangesView.as_view(), name="api-tune-changes"),
    path(
        "tunes/<str:slug>/serving-prices/",
        views.TuneServingPricesView.as_view(),
        name="api-tune-serving-prices",
    ),
    path("tunes/<str:slug>/aliases/", views.TuneAliasesView.as_view(), name="api-tune-aliases"),
    path("tunes/<str:slug>/usage/", views.TuneUsageView.as_view(), name="api-tune-usage"),
    path(
        "tunes/<str:slug>/evaluations/",
        views.TuneEvaluationsView.as_view(),
        name="api-tune-evaluations",
    ),
    path(
        "tunes/<str:slug>/evaluations/latest/",
        views.TuneLatestEvaluationView.as_view(),
        name="api-tune-latest-evaluation",
    ),
    path("tunes/<str:slug>/evaluate/", views.TuneEvaluateView.as_view(), name="api-tune-evaluate"),
    path("usage/", views.UsageIngestView.as_view(), name="api-usage"),
    path("usage/import/", views.UsageImportView.as_view(), name="api-usage-import"),
    path("summary/", views.SummaryView.as_view(), name="api-summary"),
    path("flags/", views.FlagListView.as_view(), name="api-flags"),
    path(
        "flags/<str:flag_id>/acknowledge/",
        views.FlagAcknowledgeView.as_view(),
        name="api-flag-acknowledge",
    ),
    path("flags/<str:flag_id>/snooze/", views.FlagSnoozeView.as_view(), name="api-flag-snooze"),
    path("catalog/", views.CatalogListView.as_view(), name="api-catalog"),
    path("catalog/<str:model_id>/", views.CatalogDetailView.as_view(), name="api-catalog-model"),
    path(
        "catalog/<str:model_id>/prices/",
        views.ModelPricesView.as_view(),
        name="api-catalog-model-prices",
    ),
]
