"""deploy/dev/demo's driver (run it through deploy/dev/demo, which installs, builds and starts the
local services first and passes their environment).

  python3 deploy/dev/demo_driver [--keep]      the demonstration; exit 0 only if every expectation held
  python3 deploy/dev/demo_driver --stop [RUN]  stop and remove runs kept with --keep (all, or RUN)
"""

import argparse
import os
import shutil
import signal
import secrets
import sys
import time
import traceback

from report import heading, note
from scenario import MARGIN_MAPPING, Demo
from sides import DemoError
from stack import Stack

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WORK_ROOT = os.path.join(REPO, ".work", "demo")
NEEDED_ENV = ["CRMSYNC_PG_URL", "CRMSYNC_PRM_PG_URL", "CRMSYNC_PRM_DAEMON_URL", "CRMSYNC_PRM_PORTAL_URL",
              "CRMSYNC_KAFKA_BROKERS"]


class Stopped(Exception):
    """SIGTERM: end the run the way Ctrl-C does (clean up, exit non-zero)."""


def quietly(show, *args, **kwargs):
    """Output that must not stop the clean-up when stdout is gone (a closed pipe)."""
    try:
        show(*args, **kwargs)
    except OSError:
        pass


def relative(path):
    return os.path.relpath(path, os.getcwd())


def stop_runs(run_ids):
    runs = run_ids or (sorted(os.listdir(WORK_ROOT)) if os.path.isdir(WORK_ROOT) else [])
    if not runs:
        print("demo: no kept demo runs in " + relative(WORK_ROOT))
        return 0
    status = 0
    for run_id in runs:
        heading(f"stopping demo run {run_id}")
        try:
            stack = Stack.load(REPO, WORK_ROOT, run_id)
            stack.teardown(note)
            shutil.rmtree(stack.work)
            note(f"{relative(stack.work)}: removed")
        except (OSError, ValueError, DemoError) as error:
            print(f"demo: could not stop run {run_id}: {error}", file=sys.stderr)
            status = 1
    return status


def print_kept(stack):
    stack.write_private("client_secret", stack.client_secret + "\n")
    config, work = relative(stack.config), relative(stack.work)
    heading(f"Kept running (run {stack.run_id}); everything of it is in {work}/")
    note(f"crmsync run            pid {stack.pids['crmsync']}; http://127.0.0.1:{stack.admin_port}/metrics and /readyz; "
         f"log {work}/crmsync.log")
    note(f"operator commands      build/crmsync status --config {config}   (also journal, reconcile, conflicts, ...)")
    for api, name in (("salesforce", "Salesforce emulator"), ("dynamics", "Dataverse emulator ")):
        note(f"{name}    {stack.urls[api]} (pid {stack.pids[api]}); CA {work}/{api}-ca.pem; client id "
             f"crmsync-emulator-client, client secret in {work}/client_secret")
    note(f"                       e.g. curl --cacert {work}/salesforce-ca.pem {stack.urls['salesforce']}/_emulator/records/Opportunity")
    note(f"PRM database           psql {stack.prm_url(stack.env['CRMSYNC_PRM_PG_URL'])}")
    note(f"                       as the portal: psql {stack.prm_url(stack.env['CRMSYNC_PRM_PORTAL_URL'])}, then in a "
         "transaction SET LOCAL prm.partner_org / prm.partner_user")
    note("stop and remove it     deploy/dev/demo --stop " + stack.run_id)


def run_demo(keep):
    env = {name: os.environ[name] for name in NEEDED_ENV if os.environ.get(name)}
    missing = [name for name in NEEDED_ENV if name not in env]
    if missing:
        print("demo: " + ", ".join(missing) + " not set; run deploy/dev/demo (it starts the services and sets them)",
              file=sys.stderr)
        return 2
    run_id = secrets.token_hex(4)
    stack = Stack(REPO, WORK_ROOT, run_id, env)
    demo = Demo(stack)
    started = time.monotonic()
    held = interrupted = False

    def on_sigterm(signum, frame):
        raise Stopped()
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    try:
        heading(f"crmsync demo, run {run_id} (work folder {relative(stack.work)})")
        sf_seed, dv_seed = demo.emulator_seeds()
        stack.start_emulators(sf_seed, dv_seed)
        note(f"Salesforce emulator {stack.urls['salesforce']}, Dataverse emulator {stack.urls['dynamics']}")
        schema = stack.create_prm_database(env["CRMSYNC_PRM_PG_URL"])
        names = stack.names
        note(f"PRM database {names['database']}: deploy/prm/schema.sql ({schema}; forced row-level security)")
        note(f"state schema {names['state_schema']}, Kafka topics {names['topic_prefix']}.*, "
             f"replication slot {names['slot']}")
        demo.connect()

        heading("Partner directory: three partner orgs, each a Salesforce group and a Dataverse team")
        principals = demo.seed_directory()
        with open(os.path.join(REPO, "deploy", "examples", "mapping.toml")) as shipped:
            stack.write_config(shipped.read() + MARGIN_MAPPING, principals)
        for line in stack.store_secrets():
            note(f"crmsync secrets put: {line}")
        note(f"(master key {relative(stack.path('master.key'))}, mode 0600; the values are encrypted in the state schema)")
        ready_in = stack.start_daemon()
        note(f"crmsync run: ready and capturing in {ready_in:.1f} s (config {relative(stack.config)})")

        heading("Seed: the vendor's staff enter accounts, deals, internal cost and margin, and shares in the PRM")
        demo.seed_records()
        demo.wait_seeded()
        demo.internal_margin()
        demo.step_partner_edit()
        demo.step_conflict()
        demo.step_revoke_in_dataverse()
        demo.step_forged_edit()
        demo.final_checks()
        held = all(ok for _, ok in demo.checks)
    except DemoError as error:
        print(f"\ndemo: FAILED: {error}", file=sys.stderr)
    except (KeyboardInterrupt, Stopped):
        interrupted = True
        print("\ndemo: interrupted", file=sys.stderr)
    except Exception:  # a bug in this driver, or output gone (a closed pipe): clean up all the same
        traceback.print_exc()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):  # the clean-up itself is not interrupted
            signal.signal(signum, signal.SIG_IGN)
        if keep and not interrupted and "crmsync" in stack.pids:  # kept after a failed step too, to look at
            print_kept(stack)
        else:
            quietly(heading, "Cleaning up")
            try:
                stack.teardown(lambda text: quietly(note, text))
            except DemoError as error:
                quietly(print, f"demo: clean-up incomplete: {error}", file=sys.stderr)
            if held:
                shutil.rmtree(stack.work, ignore_errors=True)
            elif os.path.isdir(stack.work):
                quietly(note, f"logs and configuration kept for a look: {relative(stack.work)}/ "
                              "(remove with deploy/dev/demo --stop " + run_id + ")")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = [what for what, ok in demo.checks if not ok]
    elapsed = time.monotonic() - started
    if held:
        heading(f"All {len(demo.checks)} expectations held; the scenario took {elapsed:.0f} s")
        return 0
    print(f"\ndemo: failed after {elapsed:.0f} s" + (": " + "; ".join(failed) if failed else ""), file=sys.stderr)
    return 1


def main():
    parser = argparse.ArgumentParser(prog="deploy/dev/demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the daemon and the emulators running at the end")
    parser.add_argument("--stop", nargs="*", metavar="RUN", help="stop and remove kept runs (all, or those named)")
    args = parser.parse_args()
    if args.stop is not None:
        return stop_runs(args.stop)
    return run_demo(args.keep)


if __name__ == "__main__":
    sys.exit(main())
