#!/usr/bin/env python3
"""Checks the deployment files without building anything: compose.yaml (parsed with PyYAML),
the Dockerfile's stages and settings, and the systemd units' hardening. The container itself
is exercised by scripts/test-container.sh where podman can run one; this check runs anywhere.
Usage: python3 scripts/check-deploy-files.py   (exit 1 with the list of problems)"""

import os
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    if os.environ.get("CI"):
        sys.exit("FAILED: PyYAML is missing (pip install pyyaml, or apt-get install python3-yaml)")
    print("SKIPPED: PyYAML is missing; the deployment files were not checked")
    sys.exit(0)

ROOT = Path(__file__).resolve().parent.parent
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    # Continuation lines joined, comments dropped: one instruction per line.
    lines = [l.strip() for l in re.sub(r"\\\n", " ", text).splitlines()]
    instructions = [l for l in lines if l and not l.startswith("#")]
    first_from = next(i for i, l in enumerate(instructions) if l.startswith("FROM "))
    global_args = {l.split()[1].split("=")[0] for l in instructions[:first_from] if l.startswith("ARG ")}
    for arg in ("BUILD_IMAGE", "RUNTIME_IMAGE", "BINARY_SOURCE"):
        check(arg in global_args, f"Dockerfile: ARG {arg} is not declared before the first FROM")
    stages = {}
    current = None
    for line in instructions:
        if line.startswith("FROM "):
            parts = line.split()
            check(len(parts) == 4 and parts[2].upper() == "AS", f"Dockerfile: unnamed stage: {line}")
            current = parts[3]
            stages[current] = {"from": parts[1], "lines": []}
        elif current:
            stages[current]["lines"].append(line)
    check(list(stages) == ["compiled", "prebuilt", "binary", "runtime"],
          f"Dockerfile: stages are {list(stages)}")
    check(stages.get("compiled", {}).get("from") == "${BUILD_IMAGE}", "Dockerfile: compiled is not FROM ${BUILD_IMAGE}")
    check(stages.get("binary", {}).get("from") == "${BINARY_SOURCE}", "Dockerfile: binary is not FROM ${BINARY_SOURCE}")
    runtime = stages.get("runtime", {"from": "", "lines": []})
    check(runtime["from"] == "${RUNTIME_IMAGE}", "Dockerfile: the runtime stage is not FROM ${RUNTIME_IMAGE}")
    body = "\n".join(runtime["lines"])
    check(any("cargo build --release --locked" in l for l in stages.get("compiled", {}).get("lines", [])),
          "Dockerfile: the compiled stage does not build with --release --locked")
    user = [l.split()[1] for l in runtime["lines"] if l.startswith("USER ")]
    check(user and not user[-1].startswith(("root", "0")), f"Dockerfile: the runtime user is {user}")
    check("QUIZMASTER_BIND=0.0.0.0:8080" in body, "Dockerfile: QUIZMASTER_BIND is not 0.0.0.0:8080")
    check("sqlite:///var/lib/quizmaster/" in body, "Dockerfile: the database is not in /var/lib/quizmaster")
    check('VOLUME ["/var/lib/quizmaster"]' in body, "Dockerfile: no volume at /var/lib/quizmaster")
    check(re.search(r"HEALTHCHECK .*CMD .*/readyz", body) is not None, "Dockerfile: no HEALTHCHECK on /readyz")
    check("COPY --from=binary /out/quizmaster /usr/bin/quizmaster" in body, "Dockerfile: the binary is not copied")
    check('ENTRYPOINT ["/usr/bin/quizmaster"]' in body and 'CMD ["serve"]' in body, "Dockerfile: not quizmaster serve")
    ignored = (ROOT / ".dockerignore").read_text().split()
    check("/target" in ignored, ".dockerignore: target/ would be sent as build context")


def compose():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc.get("services", {})
    check(set(services) == {"postgres", "api-1", "api-2", "worker"}, f"compose.yaml: services are {sorted(services)}")
    check("postgres-data" in (doc.get("volumes") or {}), "compose.yaml: no volume for PostgreSQL")
    postgres = services.get("postgres", {})
    check("healthcheck" in postgres, "compose.yaml: PostgreSQL has no healthcheck")
    for name in ("api-1", "api-2", "worker"):
        service = services.get(name, {})
        env = service.get("environment", {})
        check(re.match(r"postgres://[^@]+@postgres:5432/quizmaster$", str(env.get("QUIZMASTER_DATABASE_URL", ""))),
              f"compose.yaml: {name} does not use the postgres service")
        check(service.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
              f"compose.yaml: {name} does not wait for a healthy PostgreSQL")
        check(str(service.get("image", "")).startswith("${QUIZMASTER_IMAGE"), f"compose.yaml: {name} image is not a variable")
    for name in ("api-1", "api-2"):
        service = services.get(name, {})
        env = service.get("environment", {})
        check(service.get("command") == ["serve"], f"compose.yaml: {name} does not serve")
        check(str(env.get("QUIZMASTER_WORKERS")) == "0", f"compose.yaml: {name} runs workers")
        check(env.get("QUIZMASTER_BIND") == "0.0.0.0:8080", f"compose.yaml: {name} does not listen on 0.0.0.0:8080")
        check(any(str(p).endswith(":8080") for p in service.get("ports", [])), f"compose.yaml: {name} publishes no port")
    worker = services.get("worker", {})
    check(worker.get("command") == ["worker"], "compose.yaml: the worker service does not run `worker`")
    check(int(worker.get("environment", {}).get("QUIZMASTER_WORKERS", 0)) > 0, "compose.yaml: the worker runs no workers")
    check("QUIZMASTER_HEALTH_BIND" in worker.get("environment", {}), "compose.yaml: the worker's health port is not set")


def units():
    for unit, command in (("quizmaster.service", "serve"), ("quizmaster-worker.service", "worker")):
        text = (ROOT / "packaging/systemd" / unit).read_text()
        for directive in ("DynamicUser=yes", "StateDirectory=quizmaster", "ProtectSystem=strict",
                          "EnvironmentFile=-/etc/default/quizmaster", f"ExecStart=/usr/bin/quizmaster {command}",
                          "NoNewPrivileges=yes"):
            check(re.search(rf"^{re.escape(directive)}$", text, re.M) is not None, f"{unit}: no {directive}")
        # The server raises its open-files limit (setrlimit): @resources must not be denied.
        check("@resources" not in re.sub(r"#.*", "", text), f"{unit}: denies @resources (setrlimit)")
    defaults = (ROOT / "packaging/default/quizmaster").read_text()
    active = [l for l in defaults.splitlines() if l.strip() and not l.startswith("#")]
    check(not active, f"packaging/default/quizmaster: settings must be commented out: {active}")


dockerfile()
compose()
units()
if problems:
    print("\n".join(f"FAILED: {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
print("deployment files: ok")
