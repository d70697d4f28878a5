from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Tunefolio"
admin.site.site_title = "Tunefolio"
admin.site.index_title = "Fine-tune portfolio"
admin.site.index_template = "tracker/admin_index.html"
admin.site.site_url = "/portfolio/"  # "View site" opens the portfolio pages

handler404 = "tracker.api.errors.api_aware_404"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("tracker.api.urls")),
    path("portfolio/", include("tracker.pages.urls")),
    path("", include("tracker.urls")),
]
