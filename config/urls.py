from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Tunefolio"
admin.site.site_title = "Tunefolio"
admin.site.index_title = "Fine-tune portfolio"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("tracker.urls")),
]
