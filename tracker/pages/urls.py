from django.urls import path

from . import views

app_name = "portfolio"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("tunes/<slug:slug>/", views.tune, name="tune"),
    path("tunes/<slug:slug>/what-if/", views.what_if, name="what-if"),
    path("flags/<int:flag_id>/", views.flag_action, name="flag-action"),
]
