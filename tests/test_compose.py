"""docker-compose.yml describes the production shape, and every command it runs exists."""

import importlib
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DJANGO = ["web", "worker", "beat"]


def words(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else command


def test_the_production_shape():
    assert set(SERVICES) == {"web", "worker", "beat", "postgres", "redis", "mailpit"}
    assert SERVICES["beat"].get("deploy", {}).get("replicas", 1) == 1
    for name in ["web", "worker", "postgres", "redis", "mailpit"]:
        assert "healthcheck" in SERVICES[name], name
    assert {"postgres-data", "redis-data"} <= set(COMPOSE["volumes"])


def test_django_services_share_one_definition():
    first = SERVICES["web"]["environment"]
    for name in DJANGO:
        assert SERVICES[name]["environment"] == first, name
        assert SERVICES[name]["environment"]["DJANGO_SETTINGS_MODULE"] == (
            "config.settings.production"
        )
    assert first["DATABASE_URL"].startswith("postgres://")
    assert first["CELERY_BROKER_URL"].startswith("redis://")
    assert first["EMAIL_HOST"] == "mailpit"


def test_web_migrates_then_serves_a_wsgi_app_that_exists():
    command = " ".join(words("web"))
    assert command.index("migrate") < command.index("gunicorn")
    target = next(w for w in shlex.split(command.split("gunicorn", 1)[1]) if ":" in w)
    module, attribute = target.split(":")
    assert importlib.util.find_spec(module) is not None, module
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
    assert f"{attribute} =" in source


def test_celery_commands_name_the_celery_app():
    for name in ["worker", "beat"]:
        argv = words(name)
        app = argv[argv.index("-A") + 1]
        module = importlib.import_module(app)
        assert module.app.main == "tunefolio"
        assert argv[3] == name
