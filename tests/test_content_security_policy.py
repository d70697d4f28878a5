"""The Content-Security-Policy lets pages load only what this server serves, and the pages still
work under it: every script is a same-origin file that is really served (no inline script for
the policy to block), every stylesheet and image too. No browser runs here, so "works" is read
from the HTML: what the policy would block is exactly what these pages must not contain."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.factories import CatalogModelFactory, FineTuneFactory

pytestmark = pytest.mark.django_db


class Assets(HTMLParser):
    """The scripts (src, or inline body), stylesheets and images of a page."""

    def __init__(self):
        super().__init__()
        self.sources: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.sources.append(attrs["src"])
            else:
                self._in_script = attrs
        elif tag == "link" and attrs.get("rel") in {"stylesheet", "icon"}:
            self.sources.append(attrs["href"])
        elif tag == "img" and attrs.get("src"):
            self.sources.append(attrs["src"])

    def handle_data(self, data):
        # Data blocks (json_script) are inert: the policy does not apply to them.
        inert = self._in_script is None or self._in_script.get("type") == "application/json"
        if not inert and data.strip():
            self.inline_scripts.append(data.strip()[:80])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def assert_works_under_the_policy(client, url: str) -> Assets:
    response = client.get(url)
    assert response.status_code == 200, url
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assets = Assets()
    assets.feed(response.content.decode())
    assert assets.inline_scripts == [], f"{url} has inline scripts the policy blocks"
    for source in assets.sources:
        assert source.startswith("/") and not source.startswith("//"), (url, source)
        served = client.get(source)
        assert served.status_code == 200, (url, source)
    return assets


def test_the_policy_allows_only_this_server():
    from django.conf import settings

    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    for name, values in directives.items():
        for value in values:
            assert not value.startswith(("http", "*", "//")), (name, value)
            assert value != "'unsafe-eval'", name
    assert directives["script-src"] == ["'self'"]


def test_admin_pages_work_under_the_policy(staff_client):
    model = CatalogModelFactory()
    tune = FineTuneFactory(base_model=model)
    for url in (
        reverse("admin:index"),
        reverse("admin:tracker_finetune_changelist"),
        reverse("admin:tracker_finetune_add"),
        reverse("admin:tracker_finetune_change", args=[tune.pk]),
        reverse("admin:tracker_catalogmodel_change", args=[model.pk]),
    ):
        assets = assert_works_under_the_policy(staff_client, url)
        assert any("admin/js" in s for s in assets.sources) or url == reverse("admin:index")


def test_the_admin_login_page_works_under_the_policy(client):
    assert_works_under_the_policy(client, reverse("admin:login"))


def test_swagger_ui_works_under_the_policy(client):
    assets = assert_works_under_the_policy(client, reverse("api-docs"))
    starter = [s for s in assets.sources if "script" in s.split("?", 1)[-1]]
    assert starter, "Swagger UI's start-up script must be a file"
    script = client.get(starter[0])
    assert script["Content-Type"].startswith("application/javascript")
    assert reverse("api-schema") in script.content.decode()


def test_redoc_works_under_the_policy(client):
    assets = assert_works_under_the_policy(client, reverse("api-redoc"))
    assert any("redoc" in s for s in assets.sources)
    page = client.get(reverse("api-redoc")).content.decode()
    assert "fonts.googleapis.com" not in page
    assert reverse("api-schema") in page
