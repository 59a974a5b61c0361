#!/usr/bin/python3
"""Checks the Kubernetes manifests in deploy/k8s.

Every manifest parses, has a known kind with its apiVersion, a name, and is listed in the
kustomization. The Deployment runs 3 replicas; its probes point at /healthz (liveness) and /readyz
(readiness) on the port the configuration's admin.listen opens; every container has resource
requests and limits and the restricted security context (non-root, read-only root file system, no
privilege escalation, all capabilities dropped, RuntimeDefault seccomp); the master key Secret is
mounted read-only with mode 0400, and the daemon reads its credentials from a memory-backed copy
(the daemon refuses the symlinks and group-readable files of a Secret mount). The
PodDisruptionBudget and the Service select the Deployment's pods; the pods carry Prometheus scrape
annotations. The ConfigMap's crmsync.toml passes `crmsync config check`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path, PurePosixPath

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_check  # noqa: E402
from deploy_check import Files, Mutation, mutation  # noqa: E402

DIRECTORY = "deploy/k8s"
MANIFESTS = ["serviceaccount.yaml", "configmap.yaml", "deployment.yaml", "service.yaml", "pdb.yaml"]
KUSTOMIZATION = "kustomization.yaml"
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "ServiceAccount": "v1",
    "PodDisruptionBudget": "policy/v1",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
REPLICAS = 3
CONFIG_PATH = "/etc/crmsync/crmsync.toml"
DAEMON_DEFAULT_SHUTDOWN_GRACE_S = 30


def path(name: str) -> str:
    return f"{DIRECTORY}/{name}"


def duration_seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)", value).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


class Manifests:
    """The parsed documents, by kind; problems found while parsing."""

    def __init__(self, files: Files):
        self.problems: list[str] = []
        self.by_kind: dict[str, list[dict]] = {}
        for name in MANIFESTS + [KUSTOMIZATION]:
            try:
                documents = [d for d in yaml.safe_load_all(files[path(name)]) if d is not None]
            except yaml.YAMLError as error:
                self.problems.append(f"{name}: not valid YAML: {error}")
                continue
            for document in documents:
                self._add(name, document)

    def _add(self, name: str, document) -> None:
        if not isinstance(document, dict):
            self.problems.append(f"{name}: a document is not a mapping")
            return
        kind, api = document.get("kind"), document.get("apiVersion")
        if kind not in API_VERSIONS:
            self.problems.append(f"{name}: unexpected kind {kind!r}")
            return
        if api != API_VERSIONS[kind]:
            self.problems.append(f"{name}: {kind} has apiVersion {api!r}, want {API_VERSIONS[kind]}")
        if kind != "Kustomization" and not (document.get("metadata") or {}).get("name"):
            self.problems.append(f"{name}: {kind} has no metadata.name")
        document["__file__"] = name
        self.by_kind.setdefault(kind, []).append(document)

    def one(self, kind: str) -> dict | None:
        found = self.by_kind.get(kind, [])
        if len(found) != 1:
            self.problems.append(f"want exactly one {kind}, found {len(found)}")
            return None
        return found[0]


def selects(selector: dict | None, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels") if "matchLabels" in (selector or {}) else selector
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def get(document, *keys, default=None):
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return default
        document = document[key]
    return document


def check_security_context(name: str, container: dict, pod_context: dict) -> list[str]:
    problems = []
    context = container.get("securityContext") or {}

    def either(key):
        return context.get(key, pod_context.get(key))

    if either("runAsNonRoot") is not True:
        problems.append(f"container {name}: runAsNonRoot must be true")
    if either("runAsUser") == 0:
        problems.append(f"container {name}: runAsUser 0")
    if context.get("readOnlyRootFilesystem") is not True:
        problems.append(f"container {name}: readOnlyRootFilesystem must be true")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"container {name}: allowPrivilegeEscalation must be false")
    if context.get("privileged"):
        problems.append(f"container {name}: privileged")
    if "ALL" not in (get(context, "capabilities", "drop") or []) or get(context, "capabilities", "add"):
        problems.append(f"container {name}: capabilities must drop ALL and add none")
    if (get(context, "seccompProfile", "type") or get(pod_context, "seccompProfile", "type")) != "RuntimeDefault":
        problems.append(f"container {name}: seccompProfile must be RuntimeDefault")
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if not get(container, "resources", kind, resource):
                problems.append(f"container {name}: resources.{kind}.{resource} is not set")
    return problems


def check_probe(container: dict, probe: str, wanted_path: str, port: int, port_names: dict) -> list[str]:
    http = get(container, probe, "httpGet")
    if not http:
        return [f"container {container.get('name')}: {probe} must be an httpGet on {wanted_path}"]
    problems = []
    if http.get("path") != wanted_path:
        problems.append(f"container {container.get('name')}: {probe} path {http.get('path')!r}, want {wanted_path}")
    probe_port = port_names.get(http.get("port"), http.get("port"))
    if probe_port != port:
        problems.append(f"container {container.get('name')}: {probe} port {http.get('port')!r} is not the admin "
                        f"port {port} that admin.listen opens")
    return problems


def check_config(binary: Path, toml_text: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="crmsync-k8s-") as directory:
        config = Path(directory) / "crmsync.toml"
        config.write_text(toml_text, encoding="utf-8")
        result = subprocess.run([str(binary), "config", "check", "--config", str(config)],
                                capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return [f"configmap.yaml: crmsync.toml fails `crmsync config check`: {(result.stdout + result.stderr).strip()}"]
    return []


def check_credentials(pod: dict, main: dict, config: dict) -> list[str]:
    """The master key: a read-only Secret volume of mode 0400, copied by an init container into a
    memory-backed emptyDir that the daemon reads (mounted read-only); config paths point there."""
    problems = []
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    secret_volumes = {n for n, v in volumes.items() if "secret" in v}
    if not secret_volumes:
        return ["deployment.yaml: no Secret volume for the master key"]
    for name in secret_volumes:
        secret = volumes[name]["secret"]
        modes = [secret.get("defaultMode")] + [i.get("mode") for i in secret.get("items") or [] if "mode" in i]
        if secret.get("defaultMode") is None or any(m is None or m & 0o377 for m in modes):
            mode = oct(secret.get("defaultMode") or 0)
            problems.append(f"deployment.yaml: Secret volume {name}: defaultMode {mode}, want 0400 (owner read only)")
    containers = (pod.get("initContainers") or []) + (pod.get("containers") or [])
    for container in containers:
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") in secret_volumes and mount.get("readOnly") is not True:
                problems.append(f"container {container.get('name')}: Secret volume {mount.get('name')} "
                                "must be mounted readOnly: true")

    key_file = get(config, "secrets", "master_key_file")
    if not key_file:
        return problems + ["configmap.yaml: [secrets] master_key_file is not set"]
    credential_files = [key_file] + [p for p in (get(config, "state", "password_file"),
                                                 get(config, "prm", "password_file"),
                                                 get(config, "journal", "key_file")) if p]
    mounts = {m.get("mountPath"): m for m in main.get("volumeMounts") or []}
    for file in credential_files:
        directory = str(PurePosixPath(file).parent)
        mount = mounts.get(directory)
        volume = volumes.get(mount.get("name")) if mount else None
        if volume is None:
            problems.append(f"configmap.yaml: {file}: no volume of the crmsync container is mounted at {directory}")
            continue
        if "secret" in volume:
            problems.append(f"configmap.yaml: {file} is read straight from a Secret mount, which the daemon refuses "
                            "(symlinked, group-readable); read the init container's copy")
            continue
        if get(volume, "emptyDir", "medium") != "Memory":
            problems.append(f"deployment.yaml: volume {mount.get('name')} holding {file} must be an emptyDir "
                            "with medium: Memory (credentials never on disk)")
        if mount.get("readOnly") is not True:
            problems.append(f"container crmsync: volume {mount.get('name')} (credentials) "
                            "must be mounted readOnly: true")
        fillers = [c for c in pod.get("initContainers") or []
                   if {m.get("name") for m in c.get("volumeMounts") or []} >= {mount.get("name")}
                   and {m.get("name") for m in c.get("volumeMounts") or []} & secret_volumes]
        if not fillers:
            problems.append(f"deployment.yaml: no init container copies the Secret into volume {mount.get('name')}")
    return problems


def make_check(binary: Path):
    def check(files: Files) -> list[str]:
        manifests = Manifests(files)
        problems = manifests.problems
        kustomization = manifests.one("Kustomization")
        if kustomization is not None:
            listed = set(kustomization.get("resources") or [])
            for name in sorted(set(MANIFESTS) ^ listed):
                problems.append(f"{KUSTOMIZATION}: resources and the manifests differ on {name}")
        if "Secret" in manifests.by_kind or re.search(r"^kind:\s*Secret\b", "\n".join(files.values()), re.MULTILINE):
            problems.append("a Secret manifest is committed: credentials never go into the repository")

        deployment = manifests.one("Deployment")
        config_map = manifests.one("ConfigMap")
        pdb = manifests.one("PodDisruptionBudget")
        service = manifests.one("Service")
        account = manifests.one("ServiceAccount")
        if None in (deployment, config_map, pdb, service, account):
            return problems

        toml_text = get(config_map, "data", "crmsync.toml")
        if not toml_text:
            return problems + ["configmap.yaml: data.crmsync.toml is missing"]
        try:
            config = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as error:
            return problems + [f"configmap.yaml: crmsync.toml is not valid TOML: {error}"]
        problems += check_config(binary, toml_text)
        listen = get(config, "admin", "listen", default="127.0.0.1:9464")
        host, _, port_text = listen.rpartition(":")
        admin_port = int(port_text)
        if host in ("127.0.0.1", "[::1]", "localhost"):
            problems.append(f"configmap.yaml: admin.listen {listen} is loopback: probes and Prometheus cannot reach it")

        spec = deployment.get("spec") or {}
        if spec.get("replicas") != REPLICAS:
            problems.append(f"deployment.yaml: replicas {spec.get('replicas')}, want {REPLICAS} (one consumer group)")
        template = spec.get("template") or {}
        labels = get(template, "metadata", "labels") or {}
        if not selects(spec.get("selector"), labels):
            problems.append("deployment.yaml: spec.selector does not match the pod template's labels")
        pod = template.get("spec") or {}
        pod_context = pod.get("securityContext") or {}
        if pod_context.get("runAsNonRoot") is not True or not pod_context.get("runAsUser"):
            problems.append("deployment.yaml: the pod securityContext must set runAsNonRoot: true "
                            "and a non-zero runAsUser")
        if pod.get("serviceAccountName") != account["metadata"]["name"]:
            problems.append(f"deployment.yaml: serviceAccountName {pod.get('serviceAccountName')!r} is not the "
                            f"ServiceAccount {account['metadata']['name']!r}")
        grace = duration_seconds(get(config, "daemon", "shutdown_grace", default=f"{DAEMON_DEFAULT_SHUTDOWN_GRACE_S}s"))
        termination = pod.get("terminationGracePeriodSeconds") or 30  # the Kubernetes default
        if termination <= grace:
            problems.append(f"deployment.yaml: terminationGracePeriodSeconds {termination} must exceed "
                            f"daemon.shutdown_grace ({grace:g}s) so that SIGTERM can drain")

        containers = {c.get("name"): c for c in pod.get("containers") or []}
        main = containers.get("crmsync")
        if main is None:
            return problems + ["deployment.yaml: no container named crmsync"]
        for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            problems += check_security_context(container.get("name"), container, pod_context)

        port_names = {p.get("name"): p.get("containerPort") for p in main.get("ports") or []}
        if admin_port not in port_names.values():
            problems.append(f"container crmsync: no containerPort {admin_port} (admin.listen)")
        problems += check_probe(main, "livenessProbe", "/healthz", admin_port, port_names)
        problems += check_probe(main, "readinessProbe", "/readyz", admin_port, port_names)

        annotations = get(template, "metadata", "annotations") or {}
        wanted = {"prometheus.io/scrape": "true", "prometheus.io/port": str(admin_port),
                  "prometheus.io/path": "/metrics"}
        for key, value in wanted.items():
            if annotations.get(key) != value:
                problems.append(f"deployment.yaml: pod annotation {key}={annotations.get(key)!r}, want {value!r}")

        mounts = {m.get("mountPath"): m for m in main.get("volumeMounts") or []}
        config_mount = mounts.get(str(PurePosixPath(CONFIG_PATH).parent))
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        config_volume = volumes.get(config_mount.get("name")) if config_mount else None
        if get(config_volume, "configMap", "name") != config_map["metadata"]["name"] \
                or config_mount.get("readOnly") is not True:
            problems.append(f"container crmsync: the ConfigMap {config_map['metadata']['name']} must be mounted "
                            f"read-only at {PurePosixPath(CONFIG_PATH).parent}")
        problems += check_credentials(pod, main, config)

        pdb_spec = pdb.get("spec") or {}
        if not selects(pdb_spec.get("selector"), labels):
            problems.append("pdb.yaml: the selector does not match the Deployment's pod labels")
        min_available, max_unavailable = pdb_spec.get("minAvailable"), pdb_spec.get("maxUnavailable")
        if not ((isinstance(min_available, int) and min_available >= 2) or max_unavailable == 1):
            problems.append(f"pdb.yaml: want minAvailable >= 2 or maxUnavailable 1, "
                            f"got {min_available}/{max_unavailable}")

        service_spec = service.get("spec") or {}
        if not selects(service_spec.get("selector"), labels):
            problems.append("service.yaml: the selector does not match the Deployment's pod labels")
        targets = [port_names.get(p.get("targetPort"), p.get("targetPort")) for p in service_spec.get("ports") or []]
        if admin_port not in targets:
            problems.append(f"service.yaml: no port targets the admin port {admin_port}")
        return problems

    return check


MUTATIONS: list[Mutation] = [
    mutation("two replicas", path("deployment.yaml"), "replicas: 3", "replicas: 2", "replicas 2, want 3"),
    mutation("readiness on the wrong path", path("deployment.yaml"), "path: /readyz", "path: /ready", "want /readyz"),
    mutation("liveness on readiness", path("deployment.yaml"), "path: /healthz", "path: /readyz", "want /healthz"),
    mutation("probes on another port than admin.listen", path("configmap.yaml"), 'listen = "0.0.0.0:9464"',
             'listen = "0.0.0.0:9465"', "is not the admin port 9465"),
    mutation("admin endpoint on loopback", path("configmap.yaml"), 'listen = "0.0.0.0:9464"',
             'listen = "127.0.0.1:9464"', "is loopback"),
    mutation("writable root file system", path("deployment.yaml"), "readOnlyRootFilesystem: true   # it writes",
             "readOnlyRootFilesystem: false   # it writes", "container crmsync: readOnlyRootFilesystem"),
    mutation("privilege escalation", path("deployment.yaml"), "allowPrivilegeEscalation: false",
             "allowPrivilegeEscalation: true", "allowPrivilegeEscalation must be false"),
    mutation("capabilities kept", path("deployment.yaml"), 'drop: ["ALL"]', 'drop: ["NET_RAW"]', "must drop ALL"),
    mutation("seccomp unconfined", path("deployment.yaml"), "type: RuntimeDefault", "type: Unconfined",
             "seccompProfile must be RuntimeDefault"),
    mutation("runs as root", path("deployment.yaml"), "runAsNonRoot: true\n        runAsUser: 10001",
             "runAsNonRoot: false\n        runAsUser: 0", "runAsNonRoot"),
    mutation("no memory limit", path("deployment.yaml"), "              cpu: \"1\"\n              memory: 512Mi",
             "              cpu: \"1\"", "resources.limits.memory"),
    mutation("Secret group-readable", path("deployment.yaml"), "defaultMode: 0400", "defaultMode: 0440",
             "want 0400"),
    mutation("Secret mounted writable", path("deployment.yaml"),
             "mountPath: /var/run/secrets/crmsync\n              readOnly: true", "mountPath: /var/run/secrets/crmsync",
             "must be mounted readOnly"),
    mutation("master key read from the Secret mount", path("configmap.yaml"),
             'master_key_file = "/run/crmsync/credentials/master-key"',
             'master_key_file = "/var/run/secrets/crmsync/master-key"', "master-key: no volume"),
    mutation("credentials on disk", path("deployment.yaml"), "medium: Memory", "medium: \"\"", "medium: Memory"),
    mutation("PDB selects other pods", path("pdb.yaml"),
             "    matchLabels:\n      app.kubernetes.io/name: crmsync\n      app.kubernetes.io/component: daemon",
             "    matchLabels:\n      app.kubernetes.io/name: crmsync\n      app.kubernetes.io/component: worker",
             "pdb.yaml: the selector"),
    mutation("PDB allows two down", path("pdb.yaml"), "maxUnavailable: 1", "maxUnavailable: 2", "want minAvailable"),
    mutation("Service selects other pods", path("service.yaml"), "app.kubernetes.io/component: daemon\n  ports",
             "app.kubernetes.io/component: apply\n  ports", "service.yaml: the selector"),
    mutation("no scrape annotation", path("deployment.yaml"), 'prometheus.io/scrape: "true"',
             'prometheus.io/scrape: "false"', "prometheus.io/scrape"),
    mutation("grace shorter than the drain", path("deployment.yaml"), "terminationGracePeriodSeconds: 45",
             "terminationGracePeriodSeconds: 20", "must exceed daemon.shutdown_grace"),
    mutation("an invalid configuration", path("configmap.yaml"), "[kafka]\n", "[kafka]\n    client_idd = \"x\"\n",
             "fails `crmsync config check`"),
    mutation("a manifest left out of the kustomization", path(KUSTOMIZATION), "  - pdb.yaml\n", "",
             "differ on pdb.yaml"),
    mutation("a Secret committed", path("service.yaml"), "apiVersion: v1\nkind: Service",
             "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\ndata:\n  master-key: c2VjcmV0\n---\n"
             "apiVersion: v1\nkind: Service",
             "a Secret manifest is committed"),
    mutation("wrong apiVersion", path("pdb.yaml"), "apiVersion: policy/v1", "apiVersion: policy/v1beta1",
             "want policy/v1"),
    mutation("broken YAML", path("service.yaml"), "  selector:\n", "  selector:\n   - [\n", "not valid YAML"),
]


def main() -> int:
    parser = deploy_check.common_arguments(__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, type=Path, help="the built crmsync binary (for config check)")
    args = parser.parse_args()
    if not args.binary.is_file():
        print(f"{args.binary}: the crmsync binary is not built")
        return 1
    files = deploy_check.read_files(args.source_dir, [path(n) for n in MANIFESTS + [KUSTOMIZATION]])
    return deploy_check.run("kubernetes manifests", make_check(args.binary.resolve()), files, MUTATIONS)


if __name__ == "__main__":
    sys.exit(main())
