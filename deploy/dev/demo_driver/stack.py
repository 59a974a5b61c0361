"""The demo's own stack on the shared local services: two CRM emulators on free loopback ports, a
fresh PRM database with the reference schema, a fresh state schema, Kafka topics and a consumer group
of its own (unique names, so tests and other demo runs are untouched), the secret store, the
configuration, and `crmsync run`. Everything it creates is listed in <work>/run.json, so that the
run's end, or `deploy/dev/demo --stop` for a run kept with --keep, removes exactly that."""

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

import kafka_admin
from sides import DemoError, Http

EMULATOR_CLIENT_ID = "crmsync-emulator-client"
DEFAULT_EMULATOR_SECRET = "crmsync-emulator-secret"  # replaced at start (docs/emulators.md)
DATAVERSE_TENANT = "crmsync-demo-tenant"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def url_with_database(url, database):
    return url.rsplit("/", 1)[0] + "/" + database


def process_alive(pid, binary):
    """Whether `pid` still runs `binary` (a recycled pid is not ours)."""
    try:
        running = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        return running == os.path.realpath(binary)
    except OSError:
        return False


def stop_process(pid, binary, grace):
    """SIGTERM, then SIGKILL after `grace` seconds; returns the way it ended."""
    if not process_alive(pid, binary):
        return "not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(pid, binary):
            return "stopped"
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return "killed after SIGTERM went unanswered"


class Stack:
    def __init__(self, repo, work_root, run_id, env):
        self.repo = repo
        self.run_id = run_id
        self.work = os.path.join(work_root, run_id)
        self.crmsync = os.path.join(repo, "build", "crmsync")
        self.emulator = os.path.join(repo, "build", "crm-emulator")
        self.env = env
        name = "crmsync_demo_" + run_id
        self.names = {"database": name, "state_schema": name, "slot": name,
                      "topic_prefix": "crmsync-demo-" + run_id, "group": "crmsync-demo-" + run_id}
        self.pids = {}
        self.urls = {}
        self.config = os.path.join(self.work, "crmsync.toml")
        self.client_secret = secrets.token_urlsafe(24)
        self.daemon_log = os.path.join(self.work, "crmsync.log")
        self.admin_port = None
        self.created = []  # what exists and must be removed: "emulators", "database", "schema", "daemon"

    # ----------------------------------------------------------------------------- bookkeeping
    def path(self, name):
        return os.path.join(self.work, name)

    def save(self):
        state = {"run_id": self.run_id, "names": self.names, "pids": self.pids, "urls": self.urls,
                 "created": self.created, "admin_port": self.admin_port, "env": self.env}
        with open(self.path("run.json"), "w") as out:
            json.dump(state, out, indent=1)

    @classmethod
    def load(cls, repo, work_root, run_id):
        with open(os.path.join(work_root, run_id, "run.json")) as source:
            state = json.load(source)
        stack = cls(repo, work_root, run_id, state["env"])
        stack.names, stack.pids, stack.urls = state["names"], state["pids"], state["urls"]
        stack.created, stack.admin_port = state["created"], state["admin_port"]
        return stack

    def write_private(self, name, text):
        path = self.path(name)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
        return path

    # ------------------------------------------------------------------------------ emulators
    def start_emulators(self, sf_seed, dv_seed):
        os.makedirs(self.work, mode=0o700)
        self.created.append("emulators")
        for api, seed in (("salesforce", sf_seed), ("dynamics", dv_seed)):
            seed_file = self.path(f"{api}-seed.json")
            with open(seed_file, "w") as out:
                json.dump(seed, out)
            with open(self.path(f"{api}-emulator.log"), "w") as log:
                process = subprocess.Popen(
                    [self.emulator, "--api", api, "--listen", "127.0.0.1:0", "--ca-out", self.path(f"{api}-ca.pem"),
                     "--seed", seed_file], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.pids[api] = process.pid
            self.save()
            self.urls[api] = self._emulator_url(api, process)
            # This run's client secret replaces the emulator's default, through its admin API rather
            # than --client-secret, so that it is not on a command line.
            Http(self.urls[api], self.path(f"{api}-ca.pem")).admin(
                "POST", "oauth/client-secrets", {"add": self.client_secret, "remove": DEFAULT_EMULATOR_SECRET})
        self.save()

    def _emulator_url(self, api, process):
        marker = "crm-emulator listening "
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.path(f"{api}-emulator.log")) as log:
                for line in log:
                    if line.startswith(marker):
                        return line[len(marker):].strip()
            if process.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.path(f"{api}-emulator.log")) as log:
            raise DemoError(f"the {api} emulator did not start: {log.read().strip()}")

    # --------------------------------------------------------------------- databases, topics
    def create_prm_database(self, prm_admin_url):
        """A fresh database with the reference PRM schema (roles are cluster-wide and shared)."""
        admin = url_with_database(prm_admin_url, "postgres")
        database = self.names["database"]
        self.created.append("database")
        self.save()
        run_psql(admin, f'CREATE DATABASE "{database}"')
        schema_file = os.path.join(self.repo, "deploy", "prm", "schema.sql")
        done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", schema_file,
                               url_with_database(prm_admin_url, database)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise DemoError(f"applying deploy/prm/schema.sql to {database} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def prm_url(self, url):
        return url_with_database(url, self.names["database"])

    # ------------------------------------------------------------------------ configuration
    def write_config(self, mapping_toml, principals_toml):
        mapping_file = self.path("mapping.toml")
        with open(mapping_file, "w") as out:
            out.write(mapping_toml)
        principals_file = self.path("principals.toml")
        with open(principals_file, "w") as out:
            out.write(principals_toml)
        self.admin_port = free_port()
        names, env, urls = self.names, self.env, self.urls
        config = f"""# Written by deploy/dev/demo for run {self.run_id}: deploy/examples/crmsync.toml with the demo's
# own names (PRM database, state schema, Kafka topics), the two emulators and short intervals.
[daemon]
instance_id = "demo-{self.run_id}"
shutdown_grace = "20s"
health_check_interval = "1s"
leader_retry_interval = "1s"

[log]
level = "info"
format = "text"

[admin]
listen = "127.0.0.1:{self.admin_port}"

[state]
database_url = "{env['CRMSYNC_PG_URL']}"
schema = "{names['state_schema']}"

[kafka]
brokers = ["{env['CRMSYNC_KAFKA_BROKERS']}"]
client_id = "crmsync-demo"
group_id = "{names['group']}"
topic_prefix = "{names['topic_prefix']}"

[prm]
database_url = "{self.prm_url(env['CRMSYNC_PRM_DAEMON_URL'])}"
slot = "{names['slot']}"
status_interval = "1s"

[secrets]
master_key_file = "{self.path('master.key')}"
reload_interval = "2s"

[salesforce]
login_url = "{urls['salesforce']}"
client_id = "{EMULATOR_CLIENT_ID}"
ca_bundle = "{self.path('salesforce-ca.pem')}"
poll_interval = "500ms"

[dynamics]
org_url = "{urls['dynamics']}"
authority_url = "{urls['dynamics']}"
tenant = "{DATAVERSE_TENANT}"
client_id = "{EMULATOR_CLIENT_ID}"
ca_bundle = "{self.path('dynamics-ca.pem')}"
poll_interval = "500ms"

[journal]
key_secret = "journal-hmac-key"

[engine]
mapping_file = "{mapping_file}"
linger = "50ms"

[permissions]
principals_file = "{principals_file}"
directory_refresh = "1s"
sharing_sweep_interval = "2s"
"""
        with open(self.config, "w") as out:
            out.write(config)

    # ------------------------------------------------------------------------------- the CLI
    def cli(self, *args, check=True):
        """Runs `crmsync ARGS --config <the demo's>`; returns (exit code, stdout, stderr)."""
        done = subprocess.run([self.crmsync, *args, "--config", self.config], capture_output=True, text=True,
                              timeout=300)
        if check and done.returncode != 0:
            raise DemoError(f"crmsync {' '.join(args)} exited {done.returncode}: "
                            f"{(done.stderr or done.stdout).strip()}")
        return done.returncode, done.stdout, done.stderr

    def store_secrets(self):
        """Master key (0600), then the journal key and both CRM client secrets into the store."""
        self.created.append("schema")
        self.save()
        subprocess.run([self.crmsync, "secrets", "generate-master-key", "--out", self.path("master.key")],
                       check=True, capture_output=True, timeout=60)
        self.cli("migrate")
        stored = []
        for name, value in (("journal-hmac-key", _journal_key()),
                            ("salesforce.client_secret", self.client_secret),
                            ("dynamics.client_secret", self.client_secret)):
            value_file = self.write_private("value.tmp", value + "\n")
            try:
                _, out, _ = self.cli("secrets", "put", name, "--from-file", value_file, "--operator", "demo")
            finally:
                os.unlink(value_file)
            stored.append(out.strip().splitlines()[0] if out.strip() else name)
        return stored

    # ---------------------------------------------------------------------------- the daemon
    def start_daemon(self):
        with open(self.daemon_log, "w") as log:
            process = subprocess.Popen([self.crmsync, "run", "--config", self.config], stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.pids["crmsync"] = process.pid
        self.created.append("daemon")
        self.save()
        started = time.monotonic()
        while time.monotonic() - started < 90:
            if process.poll() is not None:
                raise DemoError(f"crmsync run exited with {process.returncode} before it was ready:\n"
                                + self.log_tail())
            if "crmsync_prm_capture_streaming 1" in self.admin_get("/metrics") and \
                    self.admin_get("/readyz").startswith('{"ready":true'):
                return time.monotonic() - started
            time.sleep(0.2)
        raise DemoError("crmsync run did not become ready (PRM capture streaming) within 90 s:\n" + self.log_tail())

    def admin_get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as answer:
                return answer.read().decode()
        except OSError as error:
            body = getattr(error, "read", None)
            return body().decode() if callable(body) else ""

    def log_tail(self, lines=40):
        """The daemon's last log lines, without the idle change-capture polls."""
        try:
            with open(self.daemon_log) as log:
                return "".join([line for line in log if "upserts=0 deletes=0" not in line][-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------------------- teardown
    def teardown(self, say):
        """Stops what runs and removes what was created; reports each piece in one line."""
        if "crmsync" in self.pids:
            say(f"crmsync run: {stop_process(self.pids['crmsync'], self.crmsync, 25)}")
        for api in ("salesforce", "dynamics"):
            if api in self.pids:
                say(f"{api} emulator: {stop_process(self.pids[api], self.emulator, 5)}")
        env = self.env
        if "database" in self.created:
            database = self.names["database"]
            try:
                run_psql(url_with_database(env["CRMSYNC_PRM_PG_URL"], database),
                         "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE database = current_database() AND NOT active")
            except DemoError:
                pass  # the database may not exist (a failed start)
            run_psql(url_with_database(env["CRMSYNC_PRM_PG_URL"], "postgres"),
                     f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            say(f"PRM database {database} and its replication slot: dropped")
        if "schema" in self.created:
            run_psql(env["CRMSYNC_PG_URL"], f'DROP SCHEMA IF EXISTS "{self.names["state_schema"]}" CASCADE')
            say(f"state schema {self.names['state_schema']}: dropped")
        if "daemon" in self.created:
            prefix = self.names["topic_prefix"]
            topics = [f"{prefix}.changes.prm", f"{prefix}.changes.salesforce", f"{prefix}.changes.dynamics",
                      f"{prefix}.deadletter"]
            try:
                outcomes = kafka_admin.delete_topics(env["CRMSYNC_KAFKA_BROKERS"], topics)
                group = kafka_admin.delete_group(env["CRMSYNC_KAFKA_BROKERS"], self.names["group"])
                counts = {}
                for outcome in outcomes.values():
                    counts[outcome] = counts.get(outcome, 0) + 1
                say(f"Kafka topics {prefix}.*: " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
                    + f"; consumer group {self.names['group']}: {group}")
            except OSError as error:
                say(f"Kafka topics {prefix}.*: not deleted ({error}); they are harmless and small")


def run_psql(url, sql):
    done = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise DemoError(f"psql {sql}: {done.stderr.strip()}")
    return done.stdout


def _journal_key():
    return base64.b64encode(secrets.token_bytes(32)).decode()

