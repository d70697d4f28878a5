"""docker-compose.yml describes the production shape, every command it runs exists, and the
Dockerfile builds the static files in."""

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DJANGO = ["web", "worker", "beat"]


def words(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else command


def test_the_production_shape():
    assert set(SERVICES) == {"migrate", "web", "worker", "beat", "postgres", "redis", "mailpit"}
    assert SERVICES["beat"].get("deploy", {}).get("replicas", 1) == 1
    for name in ["web", "worker", "postgres", "redis", "mailpit"]:
        assert "healthcheck" in SERVICES[name], name
    assert {"postgres-data", "redis-data"} <= set(COMPOSE["volumes"])


def test_django_services_share_one_definition():
    first = SERVICES["web"]["environment"]
    for name in [*DJANGO, "migrate"]:
        assert SERVICES[name]["environment"] == first, name
        assert SERVICES[name]["environment"]["DJANGO_SETTINGS_MODULE"] == (
            "config.settings.production"
        )
    assert first["DATABASE_URL"].startswith("postgres://")
    assert first["CELERY_BROKER_URL"].startswith("redis://")
    assert first["EMAIL_HOST"] == "mailpit"


def test_a_one_shot_migrate_runs_before_web_worker_and_beat():
    migrate = SERVICES["migrate"]
    assert words("migrate") == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"  # it exits when done; restarting would loop
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in DJANGO:
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
        assert "migrate" not in words(name), name


def test_web_serves_a_wsgi_app_that_exists_and_collects_no_static_files():
    command = " ".join(words("web"))
    assert command.startswith("gunicorn ")
    assert "collectstatic" not in command
    target = next(w for w in shlex.split(command.split("gunicorn", 1)[1]) if ":" in w)
    module, attribute = target.split(":")
    assert importlib.util.find_spec(module) is not None, module
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
    assert f"{attribute} =" in source


def dockerfile_collectstatic() -> tuple[dict[str, str], list[str]]:
    """The Dockerfile's collectstatic step: its environment and its command."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    steps = [line.strip() for line in text.splitlines()]
    run = next(line for line in steps if line.startswith("RUN") and "collectstatic" in line)
    assert steps.index(run) < steps.index("USER tunefolio")  # as root, into the image
    argv = shlex.split(run.removeprefix("RUN"))
    env = dict(w.split("=", 1) for w in argv if "=" in w and not w.startswith("-"))
    return env, [w for w in argv if not ("=" in w and not w.startswith("-"))]


def test_static_files_are_built_into_the_image_with_the_production_storage(tmp_path):
    """Runs the Dockerfile's own collectstatic step (into a temporary folder)."""
    env, argv = dockerfile_collectstatic()
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert argv == ["python", "manage.py", "collectstatic", "--noinput"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    done = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        env=clean | env | {"DJANGO_STATIC_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    assert "admin/css/base.css" in manifest  # hashed names: the production storage ran
    assert (tmp_path / manifest["admin/css/base.css"]).is_file()


def test_the_healthcheck_works_with_a_real_domain_and_the_https_redirect(db, settings):
    test = SERVICES["web"]["healthcheck"]["test"]
    url = urlparse(re.search(r"https?://[^'\"]+", " ".join(test)).group(0))
    settings.ALLOWED_HOSTS = ["tunefolio.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client(HTTP_HOST=url.netloc)
    probe = client.get(url.path)
    assert probe.status_code == 200, probe.content
    assert probe.json()["status"] == "ready"
    # Only the probe: any other path from that host is still refused, and the real domain over
    # plain HTTP is still redirected to HTTPS.
    assert client.get("/admin/login/").status_code == 400
    redirected = Client(HTTP_HOST="tunefolio.example.com").get("/admin/login/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://tunefolio.example.com/")


def test_images_are_pinned_to_a_version():
    for name in ["postgres", "redis", "mailpit"]:
        image = SERVICES[name]["image"]
        assert ":" in image and not image.endswith(":latest"), image
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", SERVICES["mailpit"]["image"])


def test_database_and_redis_passwords_come_from_the_environment_and_are_required():
    def required(value: str, variable: str) -> bool:
        return f"${{{variable}:?" in value

    postgres = SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert required(postgres, "POSTGRES_PASSWORD")
    django = SERVICES["web"]["environment"]
    assert required(django["DATABASE_URL"], "POSTGRES_PASSWORD")
    redis_command = " ".join(words("redis"))
    assert required(redis_command, "REDIS_PASSWORD")
    assert "--requirepass" in redis_command
    for url in ("REDIS_URL", "CELERY_BROKER_URL"):
        assert re.match(r"redis://:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379/\d$", django[url]), url
    # redis-cli exits 0 on NOAUTH: the healthcheck must look for PONG, with the password.
    assert required(SERVICES["redis"]["environment"]["REDISCLI_AUTH"], "REDIS_PASSWORD")
    assert "PONG" in " ".join(SERVICES["redis"]["healthcheck"]["test"])
    # Nothing hard-coded is left.
    text = (ROOT / "docker-compose.yml").read_text()
    assert "tunefolio:tunefolio@" not in text
    assert "POSTGRES_PASSWORD: tunefolio" not in text


def test_celery_commands_name_the_celery_app():
    for name in ["worker", "beat"]:
        argv = words(name)
        app = argv[argv.index("-A") + 1]
        module = importlib.import_module(app)
        assert module.app.main == "tunefolio"
        assert argv[3] == name
