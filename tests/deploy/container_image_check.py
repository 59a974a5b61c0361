#!/usr/bin/python3
"""Checks deploy/container/Dockerfile and the build context's .dockerignore without a container engine.

What can be checked statically: base images pinned to an exact release (never :latest, never a
moving tag), a numeric non-root USER, no COPY or ADD of key, credential or environment files, a
runtime stage that installs runtime packages only (and every package the built binary links
against: its NEEDED libraries are looked up with dpkg on this Debian machine), a HEALTHCHECK on
/healthz with a tool the runtime image has, the entry point, OCI labels, a build stage that copies
every directory the CMake build reads, and a .dockerignore that keeps build trees, .git, local
state and key files out of the context.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_check  # noqa: E402
from deploy_check import Files, Mutation, mutation  # noqa: E402

DOCKERFILE = "deploy/container/Dockerfile"
DOCKERIGNORE = ".dockerignore"
ROOT_CMAKE = "CMakeLists.txt"
ADMIN_PORT = "9464"
ENTRYPOINT = ["/usr/local/bin/crmsync", "run", "--config", "/etc/crmsync/crmsync.toml"]
OCI_LABELS = ["org.opencontainers.image.title", "org.opencontainers.image.description",
              "org.opencontainers.image.version", "org.opencontainers.image.revision"]
BUILD_ONLY_PACKAGES = {"build-essential", "gcc", "g++", "clang", "cmake", "ninja-build", "make", "pkg-config",
                       "git", "ccache", "binutils"}
# In every Debian slim image (essential or required by apt): need not be installed explicitly.
BASE_PACKAGES = {"libc6", "libgcc-s1"}
# The sanitizers' runtimes (libasan8, libubsan1, …), linked only by the sanitized build
# (deploy/dev/test --sanitize runs this check on that binary too); the image is built without them.
SANITIZER_RUNTIME = re.compile(r"^lib(asan|ubsan|lsan|tsan)\d+$")
SECRET_LOOKING = re.compile(r"(\.key|\.pem|\.p12|\.pfx|\.crt|\.env|master[-_]?key|passw|credential|secret|id_rsa|"
                            r"\.kube|\.git$|\.work)", re.IGNORECASE)
# Paths the context must never carry, and paths it must (beside every COPY source).
MUST_EXCLUDE = ["build/crmsync", "build-deploy/CMakeCache.txt", ".git/HEAD", ".work/pg/data/PG_VERSION",
                "master-key", "deploy/k8s/master-key", "daemon/test.key", "tests/fixtures/server.pem",
                ".env", "daemon/.env", "credentials/state-db-password", "notes.txt"]


@dataclass
class Stage:
    image: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    logical, pending = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        if not line:
            continue
        instruction, _, arguments = line.partition(" ")
        instruction, arguments = instruction.upper(), arguments.strip()
        if instruction == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0] if words else "", alias))
        elif stages:
            stages[-1].instructions.append((instruction, arguments))
    return stages


def image_problem(image: str, aliases: set[str]) -> str | None:
    if image in aliases:
        return None
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    if not tag:
        return f"FROM {image}: no tag; pin an exact release (e.g. debian:12.11-slim) or a digest"
    if tag == "latest" or not re.search(r"\d+\.\d+", tag):
        return f"FROM {image}: tag {tag!r} moves; pin an exact release (e.g. debian:12.11-slim) or a digest"
    return None


def apt_packages(run_arguments: str) -> list[str]:
    """Package names of every `apt-get install` in one RUN."""
    packages = []
    for command in re.split(r"&&|;|\|\|", run_arguments):
        words = shlex.split(command)
        if "install" not in words or not any(w.endswith("apt-get") or w == "apt" for w in words):
            continue
        after = words[words.index("install") + 1:]
        packages += [w for w in after if not w.startswith("-") and "=" not in w[:1]]
    return packages


def exec_form(arguments: str) -> list[str] | None:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def needed_packages(binary: Path) -> tuple[set[str], list[str]]:
    """Debian packages that hold the binary's NEEDED libraries, found through ldd and dpkg -S."""
    problems = []
    dump = subprocess.run(["objdump", "-p", str(binary)], capture_output=True, text=True, check=False)
    needed = re.findall(r"NEEDED\s+(\S+)", dump.stdout)
    if dump.returncode != 0 or not needed:
        return set(), [f"objdump -p {binary} found no NEEDED libraries: {dump.stderr.strip()}"]
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.MULTILINE))
    packages = set()
    for library in needed:
        path = paths.get(library)
        if path is None:
            problems.append(f"{binary}: NEEDED {library} does not resolve on this machine (ldd)")
            continue
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, check=False)
        if owner.returncode != 0:  # usrmerge: dpkg may know the file under /usr/lib or /lib
            other = path[4:] if path.startswith("/usr/") else "/usr" + path
            owner = subprocess.run(["dpkg", "-S", other], capture_output=True, text=True, check=False)
        if owner.returncode != 0:
            problems.append(f"{library} ({path}): no Debian package owns it (dpkg -S)")
            continue
        packages.add(owner.stdout.split(":", 1)[0].strip())
    return packages, problems


class DockerIgnore:
    """The context filter of .dockerignore, as Docker applies it: the last matching pattern decides,
    a pattern matches a path or any of its parent directories, `!` re-includes."""

    def __init__(self, text: str):
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = line[1:].strip() if negated else line
            pattern = pattern.strip("/").removeprefix("./")
            self.rules.append((negated, re.compile(self._regex(pattern))))

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return f"^{out}$"

    def excluded(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negated, regex in self.rules:
            if any(regex.match(c) for c in candidates):
                result = not negated
        return result


def check_dockerignore(files: Files, copy_sources: list[str]) -> list[str]:
    problems = []
    ignore = DockerIgnore(files[DOCKERIGNORE])
    for path in MUST_EXCLUDE:
        if not ignore.excluded(path):
            problems.append(f".dockerignore: {path} would be sent to the builder; exclude it")
    for source in copy_sources:
        probe = source if not source.endswith("/") else source + "CMakeLists.txt"
        if ignore.excluded(probe):
            problems.append(f".dockerignore excludes {probe}, which the Dockerfile copies (COPY {source})")
    return problems


def make_check(binary: Path):
    linked_packages, link_problems = needed_packages(binary)
    linked_packages = {p for p in linked_packages if not SANITIZER_RUNTIME.match(p)}

    def check(files: Files) -> list[str]:
        problems = list(link_problems)
        stages = parse_dockerfile(files[DOCKERFILE])
        if len(stages) < 2:
            return problems + [f"{DOCKERFILE}: want a multi-stage build (build, runtime), found {len(stages)} stage(s)"]
        aliases = {s.alias for s in stages if s.alias}
        for stage in stages:
            if problem := image_problem(stage.image, aliases):
                problems.append(f"{DOCKERFILE}: {problem}")
        build, runtime = stages[0], stages[-1]
        if not re.match(r"^(docker\.io/library/)?debian:12\.\d+-slim(@sha256:[0-9a-f]{64})?$", runtime.image):
            problems.append(f"{DOCKERFILE}: runtime stage FROM {runtime.image}: want debian:12.<point>-slim")

        copy_sources: list[str] = []
        for stage in stages:
            for instruction, arguments in stage.instructions:
                if instruction == "ADD":
                    problems.append(f"{DOCKERFILE}: ADD {arguments}: use COPY (ADD fetches URLs and unpacks archives)")
                if instruction not in ("COPY", "ADD"):
                    continue
                words = shlex.split(arguments)
                if any(w.startswith("--from=") for w in words):
                    continue
                sources = [w for w in words if not w.startswith("--")][:-1]
                for source in sources:
                    if source in (".", "./", "*") or source.startswith(".."):
                        problems.append(f"{DOCKERFILE}: COPY {source}: copy only what the build reads, "
                                        "not the whole context")
                    elif SECRET_LOOKING.search(source):
                        problems.append(f"{DOCKERFILE}: COPY {source}: a secret-looking file must never be in an image")
                    else:
                        copy_sources.append(source)

        # The build stage copies what the top-level CMakeLists reads.
        cmake = files[ROOT_CMAKE]
        wanted = {d + "/" for d in re.findall(r"add_subdirectory\((\w+)\)", cmake)}
        wanted |= {m.split("/")[0] + "/" for m in re.findall(r"include\((cmake/[\w./]+)\)", cmake)}
        wanted |= {"CMakeLists.txt", "deploy/examples/mapping.toml"}
        for path in sorted(wanted - set(copy_sources)):
            problems.append(f"{DOCKERFILE}: the build stage does not COPY {path}, which the CMake build reads")

        user = [a for i, a in runtime.instructions if i == "USER"]
        if not user:
            problems.append(f"{DOCKERFILE}: the runtime stage has no USER: it would run as root")
        elif not re.match(r"^[1-9]\d*(:\d+)?$", user[-1]):
            problems.append(f"{DOCKERFILE}: USER {user[-1]}: want a numeric non-root uid[:gid] "
                            "(Kubernetes runAsNonRoot can only verify a numeric user)")

        installed: list[str] = []
        for instruction, arguments in runtime.instructions:
            if instruction == "RUN" and "install" in arguments:
                if "apt-get install" in arguments and "--no-install-recommends" not in arguments:
                    problems.append(f"{DOCKERFILE}: runtime apt-get install without --no-install-recommends")
                installed += apt_packages(arguments)
        for package in installed:
            if package.endswith("-dev") or package.endswith("-dev:amd64") or package in BUILD_ONLY_PACKAGES:
                problems.append(f"{DOCKERFILE}: the runtime stage installs {package}, a build-time package")
        for package in sorted(linked_packages - BASE_PACKAGES - set(installed)):
            problems.append(f"{DOCKERFILE}: the runtime stage does not install {package}, "
                            "which holds a library the crmsync binary links against")

        health = [a for i, a in runtime.instructions if i == "HEALTHCHECK"]
        if not health or health[-1].upper().startswith("NONE"):
            problems.append(f"{DOCKERFILE}: no HEALTHCHECK in the runtime stage")
        else:
            command = health[-1]
            if f":{ADMIN_PORT}/healthz" not in command:
                problems.append(f"{DOCKERFILE}: HEALTHCHECK must probe /healthz on the admin port {ADMIN_PORT}")
            tool = next((t for t in ("curl", "wget", "crmsync") if re.search(rf'"{t}"|\b{t}\b', command)), None)
            if tool is None or (tool in ("curl", "wget") and tool not in installed):
                problems.append(f"{DOCKERFILE}: the HEALTHCHECK tool ({tool or 'unknown'}) is not installed "
                                "in the runtime stage")

        exposed = " ".join(a for i, a in runtime.instructions if i == "EXPOSE").split()
        if ADMIN_PORT not in [p.split("/")[0] for p in exposed]:
            problems.append(f"{DOCKERFILE}: EXPOSE {ADMIN_PORT} (the admin endpoint) is missing")
        entrypoint = [a for i, a in runtime.instructions if i == "ENTRYPOINT"]
        command_line = (exec_form(entrypoint[-1]) or []) if entrypoint else []
        if command_line != ENTRYPOINT:
            problems.append(f"{DOCKERFILE}: ENTRYPOINT {entrypoint[-1] if entrypoint else 'missing'}: want "
                            f"{json.dumps(ENTRYPOINT)} (exec form, so that the daemon is PID 1 and gets SIGTERM)")
        labels = " ".join(a for i, a in runtime.instructions if i == "LABEL")
        for label in OCI_LABELS:
            if f"{label}=" not in labels:
                problems.append(f"{DOCKERFILE}: OCI label {label} is missing")

        problems += check_dockerignore(files, copy_sources)
        return problems

    return check


MUTATIONS: list[Mutation] = [
    mutation("runs as root", DOCKERFILE, "USER 10001:10001", "USER root", "numeric non-root"),
    mutation("runs as uid 0", DOCKERFILE, "USER 10001:10001", "USER 0", "numeric non-root"),
    mutation("no USER", DOCKERFILE, "USER 10001:10001\n", "", "no USER"),
    mutation("runtime on :latest", DOCKERFILE, "FROM debian:12.11-slim", "FROM debian:latest", "moves"),
    mutation("runtime on a moving major tag", DOCKERFILE, "FROM debian:12.11-slim", "FROM debian:12-slim", "moves"),
    mutation("build stage untagged", DOCKERFILE, "FROM debian:12.11 AS build", "FROM debian AS build", "no tag"),
    mutation("a key file copied", DOCKERFILE, "COPY tests/ tests/",
             "COPY tests/ tests/\nCOPY deploy/k8s/master-key /etc/crmsync/", "secret-looking"),
    mutation("an env file copied", DOCKERFILE, "COPY cmake/ cmake/", "COPY cmake/ cmake/\nCOPY .env /src/.env",
             "secret-looking"),
    mutation("the whole context copied", DOCKERFILE, "COPY cmake/ cmake/", "COPY . .", "not the whole context"),
    mutation("ADD used", DOCKERFILE, "COPY cmake/ cmake/", "ADD cmake/ cmake/", "use COPY"),
    mutation("a -dev package at runtime", DOCKERFILE, "libcurl4 libpqxx-6.4", "libcurl4 libpq-dev libpqxx-6.4",
             "libpq-dev, a build-time package"),
    mutation("a compiler at runtime", DOCKERFILE, "ca-certificates curl \\\n      libcurl4",
             "ca-certificates curl build-essential \\\n      libcurl4", "build-essential, a build-time package"),
    mutation("a linked library missing at runtime", DOCKERFILE, "libcurl4 libpqxx-6.4 libpq5", "libcurl4 libpq5",
             "does not install libpqxx-6.4"),
    Mutation("no HEALTHCHECK", DOCKERFILE,
             (("HEALTHCHECK --interval", "# HEALTHCHECK --interval"), ('  CMD ["curl"', '#  CMD ["curl"')),
             "no HEALTHCHECK"),
    mutation("HEALTHCHECK without its tool", DOCKERFILE, "ca-certificates curl \\", "ca-certificates \\",
             "not installed"),
    mutation("HEALTHCHECK on the wrong path", DOCKERFILE, "127.0.0.1:9464/healthz", "127.0.0.1:9464/metrics",
             "/healthz"),
    mutation("shell-form entry point", DOCKERFILE,
             'ENTRYPOINT ["/usr/local/bin/crmsync", "run", "--config", "/etc/crmsync/crmsync.toml"]',
             "ENTRYPOINT /usr/local/bin/crmsync run --config /etc/crmsync/crmsync.toml", "ENTRYPOINT"),
    mutation("no OCI title", DOCKERFILE, 'org.opencontainers.image.title="crmsync"', 'title="crmsync"',
             "org.opencontainers.image.title"),
    mutation("a source directory not copied", DOCKERFILE, "COPY connectors/ connectors/\n", "",
             "does not COPY connectors/"),
    mutation(".dockerignore no longer an allow-list", DOCKERIGNORE, "\n*\n", "\n", "notes.txt would be sent"),
    Mutation(".dockerignore lets build trees in", DOCKERIGNORE, (("\n*\n", "\n"), ("**/build/\n", "")),
             "build/crmsync would be sent"),
    mutation(".dockerignore lets key files in", DOCKERIGNORE, "**/*.key\n", "", "daemon/test.key would be sent"),
    mutation(".dockerignore drops a copied directory", DOCKERIGNORE, "!daemon/\n", "",
             "excludes daemon/CMakeLists.txt"),
]


def main() -> int:
    parser = deploy_check.common_arguments(__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, type=Path, help="the built crmsync binary")
    args = parser.parse_args()
    if not args.binary.is_file():
        print(f"{args.binary}: the crmsync binary is not built")
        return 1
    files = deploy_check.read_files(args.source_dir, [DOCKERFILE, DOCKERIGNORE, ROOT_CMAKE])
    return deploy_check.run("container image", make_check(args.binary.resolve()), files, MUTATIONS)


if __name__ == "__main__":
    sys.exit(main())
