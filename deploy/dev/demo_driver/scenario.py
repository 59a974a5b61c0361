"""The demonstration itself: seed three partner orgs with their records, run crmsync, make changes
on each side and show, as tables, what arrived where, with sharing, the conflict decision and the
denied change; then reconcile (zero drift) and verify the journal (intact)."""

import json
import time
import uuid

from report import heading, money, note, table
from sides import Dataverse, DemoError, Prm, Salesforce, sql_text
from stack import DATAVERSE_TENANT, EMULATOR_CLIENT_ID

EMULATOR_USER_PASSWORD = "crmsync-emulator-password"  # the emulator's default password grant
WAIT_S = 60  # bound of every wait for an effect (they take 0.2-5 s on the 2-core dev machine)

# key, name, tier, user e-mail: three partners of different tiers.
PARTNERS = [("northwind", "Northwind Systems", "platinum", "nora@northwind.example"),
            ("contoso", "Contoso Partners", "gold", "carl@contoso.example"),
            ("fabrikam", "Fabrikam Resellers", "registered", "fay@fabrikam.example")]
# key, owner partner, name, billing country
ACCOUNTS = [("alpine", "northwind", "Alpine Logistics", "AT"),
            ("baltic", "contoso", "Baltic Foods", "LV"),
            ("coral", "fabrikam", "Coral Health", "PT")]
# key, account, name, amount, stage, close date, cost, margin % (internal)
DEALS = [("fleet", "alpine", "Alpine fleet renewal", 120000, "Qualification", "2027-03-31", 98400, 18.00),
         ("erp", "baltic", "Baltic ERP rollout", 80000, "Prospecting", "2027-05-31", 62400, 22.00),
         ("tablets", "coral", "Coral clinic tablets", 24000, "Prospecting", "2027-04-30", 20400, 15.00)]
SALES_REP = "rita.rep@vendor.example"
SF_MARGIN, DV_MARGIN = "Margin_Percent__c", "crmsync_marginpercent"

# The internal margin: the vendor's sales team keeps it in Salesforce; crmsync carries it to
# Dataverse and, being `internal`, never to the PRM (the mapping refuses to bind it there).
MARGIN_MAPPING = f"""
# Added by deploy/dev/demo: the vendor's margin, internal (CRM to CRM only, never to the PRM).
[deal.fields.margin_percent]
type = "decimal"
scale = 2
class = "internal"
policy = "latest_wins"
salesforce = "{SF_MARGIN}"
dynamics = "{DV_MARGIN}"
"""


def access_of(text):
    """Salesforce Read/Edit or a Dataverse access mask → read / edit."""
    return "edit" if "Edit" in text or "Write" in text else "read"


class Demo:
    def __init__(self, stack):
        self.stack = stack
        self.env = stack.env
        self.ids = {}     # "org:northwind", "user:northwind", "account:alpine", "deal:fleet" → PRM ids
        self.label = {}   # PRM, Salesforce or Dataverse principal id → short name
        self.sf_ids = {}  # "group:northwind", "user:northwind" → Salesforce ids
        self.dv_ids = {}  # "team:northwind", "user:northwind" → Dataverse GUIDs
        self.checks = []  # (what, held)
        self.prm = self.sf = self.dv = None

    # ================================================================================ helpers
    def expect(self, held, what):
        self.checks.append((what, bool(held)))
        note(("ok      " if held else "FAILED  ") + what)
        return held

    def wait(self, what, probe, show=None, timeout=WAIT_S):
        """Polls `probe` until it returns something truthy, at most `timeout` seconds; returns that and
        the time taken. On timeout the error names what it waited for and what `show()` sees now."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            found = probe()
            if found:
                return found, time.monotonic() - started
            time.sleep(0.2)
        seen = f"\nWhat the sides hold now: {show()}" if show else ""
        raise DemoError(f"waited {timeout} s for {what}; it did not happen.{seen}\n"
                        f"Last lines of the daemon's log ({self.stack.daemon_log}):\n{self.stack.log_tail()}")

    def named(self, text):
        """`text` with the demo's PRM ids replaced by their names (fay, Fabrikam, ...)."""
        for prm_id, name in self.label.items():
            text = text.replace(prm_id, name)
        return text

    def partner(self, key):
        return self.ids["org:" + key], self.ids["user:" + key]

    def journal(self, record):
        code, out, _ = self.stack.cli("journal", "show", "--record", record, "--limit", "200", "--json", check=False)
        return json.loads(out)["entries"] if code == 0 else []

    # =================================================================== the three sides' views
    def deal_on_prm(self, key):
        rows = self.prm.rows(
            "SELECT d.amount, d.stage, d.close_date, d.owner_partner_org_id, d.owner_partner_user_id, d.row_version, "
            "coalesce((SELECT string_agg(s.principal_id || ':' || s.access, ',') FROM prm.shares s "
            "WHERE s.object_type = 'deal' AND s.record_id = d.id), '') "
            f"FROM prm.deals d WHERE d.id = {sql_text(self.ids['deal:' + key])}")
        if not rows:
            return None
        amount, stage, close, org, user, version, shares = rows[0]
        shared = sorted(f"{self.label.get(p, p)}:{a}" for p, a in (s.split(":") for s in shares.split(",") if s))
        return {"amount": money(amount), "stage": stage, "close_date": close,
                "owner": f"{self.label.get(org, org)}/{self.label.get(user, user)}",
                "shared with": ", ".join(shared) or "-", "row_version": version}

    def deal_on_salesforce(self, key):
        row = self.sf.record("Opportunity", self.ids["deal:" + key],
                             ["Amount", "StageName", "CloseDate", "OwnerId", SF_MARGIN])
        if row is None:
            return None
        shares = self.sf.manual_shares("Opportunity", row["Id"])
        owner = f"{self.label.get(row['OwnerId'], row['OwnerId'])} (OwnerId)"
        # The owner org is a Manual Edit share to its group: shown as the owner, like the PRM's.
        partner = next((k for k, *_ in PARTNERS if self.sf_ids["user:" + k] == row["OwnerId"]), None)
        if partner and shares.get(self.sf_ids["group:" + partner]) == "Edit":
            del shares[self.sf_ids["group:" + partner]]
            owner = f"{self.label[self.sf_ids['group:' + partner]]}/{self.label[row['OwnerId']]}"
        return {"id": row["Id"], "amount": money(row["Amount"]), "stage": row["StageName"],
                "close_date": row["CloseDate"], "margin": money(row.get(SF_MARGIN)), "owner": owner,
                "shared with": ", ".join(sorted(f"{self.label.get(p, p)}:{access_of(a)}" for p, a in shares.items())) or "-"}

    def deal_on_dataverse(self, key):
        row = self.dv.by_prm_id("opportunities", self.ids["deal:" + key],
                                ["estimatedvalue", "stepname", "estimatedclosedate", "_ownerid_value", DV_MARGIN])
        if row is None:
            return None
        owner = row["_ownerid_value"]
        shares = self.dv.shared_principals("opportunities", row["opportunityid"])
        return {"id": row["opportunityid"], "amount": money(row["estimatedvalue"]), "stage": row["stepname"],
                "close_date": (row["estimatedclosedate"] or "")[:10] or None, "margin": money(row.get(DV_MARGIN)),
                "owner": f"{self.label.get(owner, owner)} (team)",
                "shared with": ", ".join(sorted(f"{self.label.get(p, p)}:{access_of(m)}"
                                                for p, m in shares.items() if p != owner)) or "-"}

    def views(self, key):
        return {"PRM": self.deal_on_prm(key), "Salesforce": self.deal_on_salesforce(key),
                "Dataverse": self.deal_on_dataverse(key)}

    def deal_table(self, key, rows, views=None, extra=()):
        views = views or self.views(key)
        name = next(d[2] for d in DEALS if d[0] == key)
        body = [[row] + [(views[side] or {}).get(row) for side in ("PRM", "Salesforce", "Dataverse")] for row in rows]
        table([f'deal "{name}"', "PRM", "Salesforce", "Dataverse"], body + [list(r) for r in extra])
        return views

    def portal_sees(self, partner_key, deal_key):
        org, user = self.partner(partner_key)
        rows = self.prm.as_partner(org, user, f"SELECT count(*) FROM prm.deals WHERE id = {sql_text(self.ids['deal:' + deal_key])};")
        return rows[0][0] == "1"

    # ====================================================================== set-up and seeding
    def emulator_seeds(self):
        """Emulator seeds: the custom margin field/column, and the partners' Dataverse teams and users."""
        for key, name, _, email in PARTNERS:
            self.dv_ids["team:" + key], self.dv_ids["user:" + key] = str(uuid.uuid4()), str(uuid.uuid4())
            self.label[self.dv_ids["team:" + key]] = name.split()[0]
            self.label[self.dv_ids["user:" + key]] = email.split("@")[0]
        sf_seed = {"fields": {"Opportunity": [{"name": SF_MARGIN, "type": "double"}]}}
        dv_seed = {"columns": {"opportunity": [{"name": DV_MARGIN, "type": "decimal"}]},
                   "records": {"teams": [{"teamid": self.dv_ids["team:" + k], "name": n} for k, n, _, _ in PARTNERS],
                               "systemusers": [{"systemuserid": self.dv_ids["user:" + k], "fullname": e}
                                               for k, _, _, e in PARTNERS]}}
        return sf_seed, dv_seed

    def connect(self):
        stack = self.stack
        self.prm = Prm(stack.prm_url(self.env["CRMSYNC_PRM_PG_URL"]), stack.prm_url(self.env["CRMSYNC_PRM_PORTAL_URL"]))
        self.sf = Salesforce(stack.urls["salesforce"], stack.path("salesforce-ca.pem"), EMULATOR_CLIENT_ID,
                             stack.client_secret, EMULATOR_USER_PASSWORD)
        self.dv = Dataverse(stack.urls["dynamics"], stack.path("dynamics-ca.pem"), DATAVERSE_TENANT, EMULATOR_CLIENT_ID,
                            stack.client_secret)

    def seed_directory(self):
        """Partner orgs and users in the PRM, their groups and users in Salesforce, the principals file."""
        values_orgs, values_users = [], []
        for key, name, tier, email in PARTNERS:
            self.ids["org:" + key], self.ids["user:" + key] = str(uuid.uuid4()), str(uuid.uuid4())
            self.label[self.ids["org:" + key]] = name.split()[0]
            self.label[self.ids["user:" + key]] = email.split("@")[0]
            values_orgs.append(f"({sql_text(self.ids['org:' + key])}, {sql_text(name)}, {sql_text(tier)})")
            values_users.append(f"({sql_text(self.ids['user:' + key])}, {sql_text(self.ids['org:' + key])}, "
                                f"{sql_text(email)}, {sql_text(email.split('@')[0].title())})")
            self.sf_ids["group:" + key] = self.sf.create("Group", {"Name": name, "Type": "Regular"})
            self.sf_ids["user:" + key] = self.sf.create(
                "User", {"Username": email, "LastName": email.split("@")[0].title(), "IsActive": True})
            self.label[self.sf_ids["group:" + key]] = name.split()[0]
            self.label[self.sf_ids["user:" + key]] = email.split("@")[0]
        self.sf_ids["rep"] = self.sf.create("User", {"Username": SALES_REP, "LastName": "Rep", "IsActive": True})
        self.label[self.sf_ids["rep"]] = "rita (sales rep)"
        self.prm.rows("INSERT INTO prm.partner_orgs (id, name, tier) VALUES " + ", ".join(values_orgs) + ";\n"
                      "INSERT INTO prm.partner_users (id, partner_org_id, email, display_name) VALUES "
                      + ", ".join(values_users) + ";")
        principals = ["schema = 1"]
        for key, _, _, _ in PARTNERS:
            principals += ["[[partner_org]]", f'prm = "{self.ids["org:" + key]}"',
                           f'salesforce_group = "{self.sf_ids["group:" + key]}"',
                           f'dynamics_team = "{self.dv_ids["team:" + key]}"',
                           "[[partner_user]]", f'prm = "{self.ids["user:" + key]}"',
                           f'salesforce_user = "{self.sf_ids["user:" + key]}"',
                           f'dynamics_user = "{self.dv_ids["user:" + key]}"']
        rows = [[name, tier, email, self.sf_ids["group:" + key], self.dv_ids["team:" + key][:8] + "~"]
                for key, name, tier, email in PARTNERS]
        table(["partner org (PRM)", "tier", "partner user", "Salesforce group", "Dataverse team"], rows)
        return "\n".join(principals) + "\n"

    def seed_records(self):
        """Accounts, deals, internal cost and margin, and shares, entered by the vendor's staff."""
        statements = ["BEGIN;"]
        for key, owner, name, country in ACCOUNTS:
            self.ids["account:" + key] = str(uuid.uuid4())
            org, user = self.partner(owner)
            statements.append(
                "INSERT INTO prm.accounts (id, name, billing_country, owner_partner_org_id, owner_partner_user_id, "
                f"modified_by_kind) VALUES ({sql_text(self.ids['account:' + key])}, {sql_text(name)}, "
                f"{sql_text(country)}, {sql_text(org)}, {sql_text(user)}, 'internal_user');")
        for key, account, name, amount, stage, close, cost, margin in DEALS:
            self.ids["deal:" + key] = str(uuid.uuid4())
            owner = next(a[1] for a in ACCOUNTS if a[0] == account)
            org, user = self.partner(owner)
            deal = sql_text(self.ids["deal:" + key])
            statements.append(
                "INSERT INTO prm.deals (id, account_id, name, amount, currency, stage, close_date, owner_partner_org_id, "
                f"owner_partner_user_id, modified_by_kind) VALUES ({deal}, {sql_text(self.ids['account:' + account])}, "
                f"{sql_text(name)}, {amount}, 'EUR', {sql_text(stage)}, {sql_text(close)}, {sql_text(org)}, "
                f"{sql_text(user)}, 'internal_user');")
            statements.append(f"INSERT INTO prm.deal_internal (deal_id, cost, margin_percent) VALUES ({deal}, {cost}, {margin});")
        # Northwind co-sells the Alpine fleet renewal with Contoso: both records shared for reading.
        contoso = sql_text(self.ids["org:contoso"])
        for object_type, record in (("account", self.ids["account:alpine"]), ("deal", self.ids["deal:fleet"])):
            statements.append("INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
                              f"VALUES ('{object_type}', {sql_text(record)}, 'partner_org', {contoso}, 'read');")
        statements.append("COMMIT;")
        self.prm.rows("\n".join(statements))

    def wait_seeded(self):
        def arrived():
            for key, *_ in DEALS:
                views = self.views(key)
                sf, dv, prm = views["Salesforce"], views["Dataverse"], views["PRM"]
                if not sf or not dv or sf["amount"] != prm["amount"] or dv["amount"] != prm["amount"]:
                    return None
                if key == "fleet" and ("Contoso:read" not in sf["shared with"] or "Contoso:read" not in dv["shared with"]):
                    return None
            return True
        _, took = self.wait("the 3 deals (and their accounts), with owners and shares, on Salesforce and Dataverse",
                            arrived, show=lambda: {key: self.views(key) for key, *_ in DEALS})
        note(f"arrived on both CRMs {took:.1f} s after the vendor's staff committed them in the PRM:")
        rows = []
        for key, *_ in DEALS:
            views = self.views(key)
            for side in ("PRM", "Salesforce", "Dataverse"):
                view = views[side]
                rows.append([next(d[2] for d in DEALS if d[0] == key) if side == "PRM" else "", side, view["amount"],
                             view["stage"], view["owner"], view["shared with"]])
        table(["deal", "side", "amount", "stage", "owner", "shared with"], rows)
        note("owner: the PRM's owner org/user columns; in Salesforce OwnerId = the partner's user plus a Manual Edit")
        note("share to the org's group; in Dataverse the org's owning team. Shares: Manual shares / GrantAccess.")
        # Each CRM's capture then reports crmsync's own writes back (echoes). The scenario starts
        # once the engine has recorded them, so that no step races the seed's echoes. This is
        # needed, not cosmetic: a CRM-only field (the margin) has no base value after a PRM-born
        # create, so a Dataverse echo carrying null that is applied after the sales rep set the
        # margin in Salesforce counts as a conflicting change, and under latest_wins (Dataverse
        # capture events are stamped with the capture's time, not modifiedon) it overwrote the
        # rep's margin with null in about one run in four. A daemon bug, reported with the demo.
        records = [f"account:{self.ids['account:' + key]}" for key, *_ in ACCOUNTS] + \
                  [f"deal:{self.ids['deal:' + key]}" for key, *_ in DEALS]
        _, took = self.wait("Salesforce's and Dataverse's captures to report crmsync's writes back (journal entries)",
                            lambda: all({"prm", "salesforce", "dynamics"} <= {e["source"] for e in self.journal(r)}
                                        for r in records),
                            show=lambda: {r: sorted({e["source"] for e in self.journal(r)}) for r in records})
        note(f"both CRMs' captures reported crmsync's writes back (echoes, recorded as such) {took:.1f} s later")

    # ===================================================================== the internal margin
    def internal_margin(self):
        heading("Internal field: the deal margin never reaches a place a partner can read")
        deal = self.ids["deal:fleet"]
        sf_id = self.deal_on_salesforce("fleet")["id"]
        self.sf.api("PATCH", f"sobjects/Opportunity/{sf_id}", {SF_MARGIN: 18.0}, as_user=SALES_REP)
        note(f"The sales rep sets {SF_MARGIN} = 18.00 on the Alpine fleet renewal in Salesforce.")
        _, took = self.wait("the margin on Dataverse",
                            lambda: (self.deal_on_dataverse("fleet") or {}).get("margin") == "18.00",
                            show=lambda: self.deal_on_dataverse("fleet"))
        margin_columns = self.prm.value(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'prm' AND table_name = 'deals' "
            "AND column_name LIKE '%margin%';")
        org, user = self.partner("northwind")
        denied = self.prm.as_partner_error(org, user, f"SELECT margin_percent FROM prm.deal_internal WHERE deal_id = {sql_text(deal)};")
        prm_margin = self.prm.value(f"SELECT margin_percent FROM prm.deal_internal WHERE deal_id = {sql_text(deal)};")
        table(["where", "margin", "who reads it"], [
            [f"Salesforce {SF_MARGIN}", "18.00", "the vendor's CRM users"],
            [f"Dataverse {DV_MARGIN}", self.deal_on_dataverse("fleet")["margin"],
             f"the vendor's CRM users (synced, {took:.1f} s)"],
            ["PRM prm.deals", "(no such column)", "partners, under row-level security"],
            ["PRM prm.deal_internal", money(prm_margin), "vendor staff and crmsync only"]])
        note(f"Northwind's own portal session: SELECT margin_percent FROM prm.deal_internal -> {denied}")
        self.expect(margin_columns == "0" and denied and "permission denied" in denied,
                    "the margin is in no column the portal role can read (prm.deals has none; deal_internal is denied)")
        self.expect(self.deal_on_dataverse("fleet")["margin"] == "18.00",
                    "the internal margin travelled Salesforce -> Dataverse only")

    # =========================================================================== the scenario
    def step_partner_edit(self):
        heading("1. A partner edits its deal in the PRM")
        org, user = self.partner("contoso")
        sql = f"UPDATE prm.deals SET amount = 95000, close_date = '2027-06-30' WHERE id = {sql_text(self.ids['deal:erp'])} RETURNING id;"
        note("Contoso's user carl, through the portal (role prm_portal, row-level security, session prm.partner_org):")
        note("UPDATE prm.deals SET amount = 95000, close_date = '2027-06-30' WHERE id = <Baltic ERP rollout>")
        updated = self.prm.as_partner(org, user, sql)
        self.expect(len(updated) == 1, "the portal let Contoso update its own deal (1 row)")
        times = {}
        for side, view in (("Salesforce", self.deal_on_salesforce), ("Dataverse", self.deal_on_dataverse)):
            _, times[side] = self.wait(f"amount 95000.00 and close date 2027-06-30 on {side}",
                                       lambda: (view("erp") or {}).get("amount") == "95000.00"
                                       and view("erp")["close_date"] == "2027-06-30", show=lambda: self.views("erp"))
        self.deal_table("erp", ["amount", "close_date", "stage", "owner", "shared with"],
                        extra=[["arrived after", "(the edit)", f"{times['Salesforce']:.1f} s", f"{times['Dataverse']:.1f} s"]])
        self.expect(True, "Contoso's edit arrived on Salesforce and Dataverse")

    def step_conflict(self):
        heading("2. A sales rep and the partner change the same field at the same time")
        org, user = self.partner("contoso")
        sf_id = self.deal_on_salesforce("erp")["id"]
        # Salesforce's change feed answers 6 s late for this step, so that the partner's PRM edit
        # reaches the engine while Salesforce already holds the rep's: a true concurrent edit.
        self.sf.admin("POST", "faults", {"method": "GET", "path": "/services/data/*/queryAll*", "latency_ms": 6000})
        note("(for this step the Salesforce emulator answers change-capture polls 6 s late, so both edits are in flight)")
        self.sf.api("PATCH", f"sobjects/Opportunity/{sf_id}", {"StageName": "Closed Won"}, as_user=SALES_REP)
        note("Salesforce, sales rep rita:   StageName = 'Closed Won'")
        self.prm.as_partner(org, user, "UPDATE prm.deals SET stage = 'Negotiation/Review' "
                                       f"WHERE id = {sql_text(self.ids['deal:erp'])} RETURNING id;")
        note("PRM, Contoso's user carl:     stage = 'Negotiation/Review'   (the mapping: stage is crm_wins)")

        def decided():
            for entry in self.journal("deal:" + self.ids["deal:erp"]):
                if entry["kind"] == "conflict_resolved" and entry["detail"].get("field") == "stage":
                    return entry
            return None
        entry, _ = self.wait("a conflict_resolved journal entry for the deal's stage", decided,
                             show=lambda: self.views("erp"))
        self.wait("stage Closed Won on all three sides",
                  lambda: all((v or {}).get("stage") == "Closed Won" for v in self.views("erp").values()),
                  show=lambda: self.views("erp"))
        self.sf.admin("DELETE", "faults")
        detail = entry["detail"]
        values = ", ".join(f"{side} {json.dumps(value)}" for side, value in sorted(detail["values"].items()))
        self.deal_table("erp", ["stage", "amount", "owner"], extra=[
            ["decision", f"journal #{entry['seq']}: {entry['kind']}", f"policy {entry['policy']}",
             f"winner {detail['winner']}"]])
        note(f"journal #{entry['seq']} (actor {self.named(entry['actor'])}): field {detail['field']}, base {json.dumps(detail['base'])}, "
             f"values {values}")
        _, explain, _ = self.stack.cli("journal", "explain", "--record", "deal:" + self.ids["deal:erp"], "--field", "stage")
        note("crmsync journal explain --record deal:<id> --field stage   (partner ids shown by name):")
        for line in explain.strip().splitlines():
            note("  " + self.named(line))
        note(f"(the entry that applied carl's change event, in which the conflict of entry #{entry['seq']} was decided)")
        self.expect(entry["policy"] == "crm_wins" and detail["winner"] == "salesforce",
                    "the conflict was decided by the field's policy (crm_wins: the sales rep's stage), journaled")

    def step_revoke_in_dataverse(self):
        heading("3. A share is revoked in Dataverse")
        before = self.views("fleet")
        contoso_saw = self.portal_sees("contoso", "fleet")
        team = self.dv_ids["team:contoso"]
        self.dv.revoke_team("opportunity", before["Dataverse"]["id"], team)
        revoked_at = time.monotonic()
        note("Dataverse administrator: RevokeAccess(opportunity <Alpine fleet renewal>, team Contoso Partners)")
        _, prm_took = self.wait("the PRM share of the deal to Contoso removed",
                                lambda: "Contoso" not in self.deal_on_prm("fleet")["shared with"],
                                show=lambda: self.views("fleet"))
        self.wait("Salesforce's Manual share of the deal to Contoso's group removed",
                  lambda: "Contoso" not in self.deal_on_salesforce("fleet")["shared with"],
                  show=lambda: self.views("fleet"))
        sf_took = time.monotonic() - revoked_at
        after = self.views("fleet")
        contoso_sees = self.portal_sees("contoso", "fleet")
        table(['deal "Alpine fleet renewal"', "PRM", "Salesforce", "Dataverse"], [
            ["shared with, before"] + [before[s]["shared with"] for s in ("PRM", "Salesforce", "Dataverse")],
            ["shared with, after"] + [after[s]["shared with"] for s in ("PRM", "Salesforce", "Dataverse")],
            ["owner"] + [after[s]["owner"] for s in ("PRM", "Salesforce", "Dataverse")],
            ["Contoso's portal sees it", f"{'yes' if contoso_saw else 'no'} -> {'yes' if contoso_sees else 'no'}", "", ""],
            ["revocation arrived after", f"{prm_took:.1f} s", f"{sf_took:.1f} s", "(the revocation)"]])
        account_share = self.prm.value("SELECT count(*) FROM prm.shares WHERE object_type = 'account' AND "
                                       f"record_id = {sql_text(self.ids['account:alpine'])}")
        self.expect(contoso_saw and not contoso_sees, "Contoso lost the deal in the PRM (row-level security) and Salesforce")
        self.expect(account_share == "1", "only the deal's share was revoked: Contoso still reads the Alpine account")

    def step_forged_edit(self):
        heading("4. A forged cross-partner edit")
        deal = sql_text(self.ids["deal:fleet"])
        org, user = self.partner("fabrikam")
        through_portal = self.prm.as_partner(org, user, f"UPDATE prm.deals SET amount = 1 WHERE id = {deal} RETURNING id;")
        note(f"Fabrikam's user fay through the portal: UPDATE <Northwind's deal> SET amount = 1 -> "
             f"{len(through_portal)} rows (row-level security hides it)")
        self.expect(not through_portal, "the portal itself refused Fabrikam's edit of Northwind's deal")
        journaled_before = {e["seq"] for e in self.journal("deal:" + self.ids["deal:fleet"])}
        self.prm.rows(f"UPDATE prm.deals SET amount = 1, modified_by_kind = 'partner_user', "
                      f"modified_by_id = {sql_text(user)} WHERE id = {deal};")
        note("A privileged back-office session (bypassing RLS, as a portal bug would) writes it anyway, as fay:")
        note("UPDATE prm.deals SET amount = 1, modified_by_kind = 'partner_user', modified_by_id = <fay> "
             "WHERE id = <Alpine fleet renewal>")

        def denied():
            for entry in self.journal("deal:" + self.ids["deal:fleet"]):
                if entry["kind"] == "denied" and entry["seq"] not in journaled_before:
                    return entry
            return None
        entry, took = self.wait("a denied journal entry for the forged change", denied, show=lambda: self.views("fleet"))
        self.wait("the forged amount written back in the PRM", lambda: self.deal_on_prm("fleet")["amount"] == "120000.00",
                  show=lambda: self.views("fleet"))
        views = self.views("fleet")
        detail = entry["detail"]
        self.deal_table("fleet", ["amount", "owner", "shared with"], views=views, extra=[
            ["decision", f"journal #{entry['seq']}: denied", f"scope {detail['scope']}",
             f"fields {','.join(detail['fields'])}"]])
        note(f"journal #{entry['seq']}, {took:.1f} s after the write, actor {self.named(entry['actor'])}:")
        note(f"  {self.named(detail['reason'])}")
        note(f"the PRM row was put back to the agreed values: reverted_on_prm = {str(detail['reverted_on_prm']).lower()}")
        self.expect(views["Salesforce"]["amount"] == "120000.00" and views["Dataverse"]["amount"] == "120000.00",
                    "the forged amount reached neither CRM")
        self.expect(views["PRM"]["amount"] == "120000.00", "the PRM holds the agreed amount again")

    # =========================================================================== the checks
    def final_checks(self):
        heading("Reconcile and journal")
        for object_kind in ("account", "deal"):
            code, out, err = self.stack.cli("reconcile", "--object", object_kind, "--json", check=False)
            try:
                summary = json.loads(out)["summary"]
            except (ValueError, KeyError):
                raise DemoError(f"crmsync reconcile --object {object_kind} exited {code}: {(err or out).strip()}")
            note(f"crmsync reconcile --object {object_kind}: exit {code}; fields and sharing compared for "
                 f"{summary['prm_records']} PRM-CRM pairs ({summary['prm_records'] // 2} records x 2 CRMs), "
                 f"{summary['crm_records']} CRM records listed; drifted {summary['drifted']}, "
                 f"possible exposures {summary['possible_exposures']}")
            self.expect(code == 0 and summary["drifted"] == 0, f"reconcile --object {object_kind}: zero drift")
        code, out, _ = self.stack.cli("journal", "verify", "--json", check=False)
        verdict = json.loads(out) if out.strip().startswith("{") else {}
        note(f"crmsync journal verify: exit {code}, intact {str(verdict.get('intact')).lower()}, "
             f"{verdict.get('entries_checked')} entries checked")
        self.expect(code == 0 and verdict.get("intact") is True, "journal verify: intact")
