#!/usr/bin/python3
"""Checks deploy/systemd/crmsync.service and crmsync@.service.

* `systemd-analyze verify` accepts each unit without a word (with ExecStart= pointing at the built
  binary, which verify requires to exist);
* `systemd-analyze security --offline=yes` rates each at most 2.0;
* the directives the daemon relies on (Type=notify, the watchdog, the master key credential) and
  the sandbox of DESIGN §7 are there with the expected values;
* the template differs from the single unit only where an instance must.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_check  # noqa: E402
from deploy_check import Files, Mutation, mutation  # noqa: E402

UNIT = "deploy/systemd/crmsync.service"
TEMPLATE = "deploy/systemd/crmsync@.service"
INSTALLED_BINARY = "/usr/local/bin/crmsync"
MAX_EXPOSURE = 2.0
DAEMON_DEFAULT_SHUTDOWN_GRACE_S = 30  # daemon.shutdown_grace default (docs/configuration.md)

# Directive -> required value, in [Service]. "" means: present and empty.
REQUIRED = {
    "Type": "notify",
    "NotifyAccess": "main",
    "DynamicUser": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}
ADDRESS_FAMILIES = {"AF_INET", "AF_INET6", "AF_UNIX"}
# [Service] settings the template may (and must) make instance-specific.
PER_INSTANCE = {"ExecStart", "User", "Group", "LoadCredential"}


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value in order (systemd list settings repeat keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            continue
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(value: str) -> float:
    """A systemd time span such as 30s, 1min 30s, 2min, 500ms."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units.get(unit or "s", 1)
    return total


def check_directives(name: str, unit: dict[str, dict[str, list[str]]]) -> list[str]:
    problems = []
    service = unit.get("Service", {})

    def last(key: str) -> str | None:
        values = service.get(key)
        return values[-1] if values else None

    for key, wanted in REQUIRED.items():
        value = last(key)
        if value is None:
            problems.append(f"{name}: [Service] {key}= is missing (want {key}={wanted})")
        elif value != wanted:
            problems.append(f"{name}: [Service] {key}={value}, want {key}={wanted}")

    exec_start = last("ExecStart") or ""
    if not re.match(rf"^{re.escape(INSTALLED_BINARY)} run --config /etc/crmsync/\S+\.toml$", exec_start):
        problems.append(f"{name}: ExecStart={exec_start!r}, "
                        f"want '{INSTALLED_BINARY} run --config /etc/crmsync/….toml'")
    if "-HUP" not in (last("ExecReload") or ""):
        problems.append(f"{name}: ExecReload= must send SIGHUP (the daemon re-reads its configuration on it)")

    watchdog = last("WatchdogSec")
    if not watchdog or seconds(watchdog) <= 0:
        problems.append(f"{name}: WatchdogSec= is missing (the daemon pings WATCHDOG=1 when it is set)")
    stop = last("TimeoutStopSec")
    if not stop or seconds(stop) <= DAEMON_DEFAULT_SHUTDOWN_GRACE_S:
        problems.append(f"{name}: TimeoutStopSec={stop} must exceed daemon.shutdown_grace "
                        f"({DAEMON_DEFAULT_SHUTDOWN_GRACE_S}s by default)")
    if "2" not in (last("RestartPreventExitStatus") or "").split():
        problems.append(f"{name}: RestartPreventExitStatus= must include 2 (a configuration error is not retried)")

    user = last("User") or ""
    if user in ("", "root", "0"):
        problems.append(f"{name}: User={user!r}: the daemon needs a dedicated user")

    loaded = service.get("LoadCredential", []) + service.get("LoadCredentialEncrypted", [])
    credentials = [value.split(":", 1) for value in loaded]
    if not any(len(c) == 2 and c[0] == "master-key" and c[1].startswith("/etc/") for c in credentials):
        problems.append(f"{name}: LoadCredential=master-key:/etc/… is missing (the secret store's master key)")

    families = set()
    for value in service.get("RestrictAddressFamilies", []):
        families = set() if not value else families | set(value.split())
    if families != ADDRESS_FAMILIES:
        problems.append(f"{name}: RestrictAddressFamilies={' '.join(sorted(families))}, "
                        f"want {' '.join(sorted(ADDRESS_FAMILIES))}")
    filters = service.get("SystemCallFilter", [])
    if "@system-service" not in filters:
        problems.append(f"{name}: SystemCallFilter=@system-service is missing")
    if not any(f.startswith("~") and "@privileged" in f for f in filters):
        problems.append(f"{name}: SystemCallFilter=~@privileged is missing")
    for key in ("IPAddressDeny", "PrivateNetwork"):
        if last(key) not in (None, "", "no"):
            problems.append(f"{name}: {key}={last(key)}: the daemon must reach PostgreSQL, Kafka and the CRMs")
    if "multi-user.target" not in (unit.get("Install", {}).get("WantedBy") or [""])[-1]:
        problems.append(f"{name}: [Install] WantedBy=multi-user.target is missing")
    return problems


def check_template_matches(unit: dict, template: dict) -> list[str]:
    problems = []
    single, per_instance = unit.get("Service", {}), template.get("Service", {})
    for key in sorted(set(single) | set(per_instance)):
        if key in PER_INSTANCE:
            if not all("%i" in v for v in per_instance.get(key, [])):
                problems.append(f"crmsync@.service: {key}= must be per instance (use %i): {per_instance.get(key)}")
        elif single.get(key) != per_instance.get(key):
            problems.append(f"crmsync@.service: {key}= differs from crmsync.service (template "
                            f"{per_instance.get(key)}, unit {single.get(key)}); keep the two in step")
    return problems


def run_systemd_analyze(binary: Path, name: str, text: str) -> list[str]:
    problems = []
    with tempfile.TemporaryDirectory(prefix="crmsync-units-") as directory:
        path = Path(directory) / name
        path.write_text(text.replace(INSTALLED_BINARY, str(binary)), encoding="utf-8")
        verify = subprocess.run(["systemd-analyze", "verify", "--man=no", f"./{name}"], cwd=directory,
                                capture_output=True, text=True, check=False)
        output = (verify.stdout + verify.stderr).strip()
        if verify.returncode != 0 or output:
            problems.append(f"{name}: systemd-analyze verify (exit {verify.returncode}): {output or 'no output'}")
        security = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"./{name}"], cwd=directory,
                                  capture_output=True, text=True, check=False)
        match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", security.stdout)
        if not match:
            problems.append(f"{name}: systemd-analyze security gave no exposure level "
                            f"(exit {security.returncode}): {security.stderr.strip()}")
        elif float(match.group(1)) > MAX_EXPOSURE:
            problems.append(f"{name}: systemd-analyze security exposure level {match.group(1)} is above {MAX_EXPOSURE}")
    return problems


def make_check(binary: Path):
    def check(files: Files) -> list[str]:
        problems = []
        parsed = {}
        for path in (UNIT, TEMPLATE):
            name = Path(path).name
            parsed[path] = parse_unit(files[path])
            problems += check_directives(name, parsed[path])
            problems += run_systemd_analyze(binary, name, files[path])
        problems += check_template_matches(parsed[UNIT], parsed[TEMPLATE])
        return problems
    return check


SANDBOX = "ProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nPrivateDevices=yes\n"
MUTATIONS: list[Mutation] = [
    mutation("a misspelt directive", UNIT, "ProtectClock=yes", "ProtectClok=yes", "systemd-analyze verify"),
    mutation("a value systemd cannot parse", TEMPLATE, "RestrictRealtime=yes", "RestrictRealtime=maybe",
             "systemd-analyze verify"),
    Mutation("the sandbox removed", UNIT,
             ((SANDBOX, ""), ("CapabilityBoundingSet=\n", ""), ("SystemCallFilter=~@privileged @resources\n", ""),
              ("DynamicUser=yes\n", ""), ("PrivateUsers=yes\n", ""), ("RestrictNamespaces=yes\n", "")),
             "exposure level"),
    mutation("Type=simple", UNIT, "Type=notify", "Type=simple", "Type=simple, want Type=notify"),
    mutation("no watchdog", TEMPLATE, "WatchdogSec=30s\n", "", "WatchdogSec= is missing"),
    mutation("no master key credential", UNIT, "LoadCredential=master-key:", "LoadCredential=other-key:",
             "LoadCredential=master-key"),
    mutation("netlink allowed", UNIT, "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
             "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK", "RestrictAddressFamilies="),
    mutation("ProtectSystem=full", UNIT, "ProtectSystem=strict", "ProtectSystem=full", "want ProtectSystem=strict"),
    mutation("a world-readable umask", UNIT, "UMask=0077", "UMask=0022", "want UMask=0077"),
    mutation("stop timeout below the drain grace", UNIT, "TimeoutStopSec=60s", "TimeoutStopSec=20s",
             "TimeoutStopSec=20s must exceed"),
    mutation("binary moved", UNIT, "ExecStart=/usr/local/bin/crmsync run", "ExecStart=/opt/crmsync/crmsync run",
             "systemd-analyze verify"),
    mutation("template drifted from the unit", TEMPLATE, "ProtectHome=yes", "ProtectHome=read-only",
             "differs from crmsync.service"),
    mutation("template not per instance", TEMPLATE, "User=crmsync-%i", "User=crmsync",
             "must be per instance"),
]


def main() -> int:
    parser = deploy_check.common_arguments(__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, type=Path, help="the built crmsync binary")
    args = parser.parse_args()
    if shutil.which("systemd-analyze") is None:
        print("systemd-analyze not found: install the Debian package systemd (deploy/dev/install-deps does)")
        return 1
    if not args.binary.is_file():
        print(f"{args.binary}: the crmsync binary is not built")
        return 1
    files = deploy_check.read_files(args.source_dir, [UNIT, TEMPLATE])
    return deploy_check.run("systemd units", make_check(args.binary.resolve()), files, MUTATIONS)


if __name__ == "__main__":
    sys.exit(main())
