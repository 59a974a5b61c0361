"""The three systems as the demo's people reach them: the PRM through psql (as the vendor's staff,
as a partner's portal session under row-level security, or as a privileged back-office session),
Salesforce and Dataverse through their REST APIs on the emulators (as the integration user, a sales
rep or an administrator), plus the emulators' admin API. Python standard library only."""

import json
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request


class DemoError(Exception):
    """A step of the demonstration failed; the message says which and what was seen."""


def sql_text(value):
    """A SQL string literal (the demo's values are its own, never user input)."""
    return "'" + str(value).replace("'", "''") + "'"


class Prm:
    """The partner portal's PostgreSQL database, through psql (one process per call)."""

    def __init__(self, admin_url, portal_url):
        self.admin_url = admin_url    # a superuser: the vendor's staff and the demo's set-up
        self.portal_url = portal_url  # prm_portal_app: the portal, subject to row-level security

    def rows(self, sql, url=None):
        """Runs `sql` (one or more statements) and returns the rows of its output as lists of text."""
        done = subprocess.run(
            ["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", url or self.admin_url],
            input=sql, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise DemoError(f"psql failed: {done.stderr.strip()}\n  SQL: {sql.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines() if line != ""]

    def value(self, sql, url=None):
        rows = self.rows(sql, url)
        return rows[0][0] if rows else None

    def as_partner(self, org, user, sql):
        """Runs `sql` in one transaction of the portal's role with the partner's session settings,
        as the portal does for a signed-in partner user: row-level security decides what it sees."""
        return self.rows(f"BEGIN;\nSET LOCAL prm.partner_org = {sql_text(org)};\n"
                         f"SET LOCAL prm.partner_user = {sql_text(user)};\n{sql}\nCOMMIT;\n", self.portal_url)

    def as_partner_error(self, org, user, sql):
        """Like as_partner, for a statement expected to fail: returns psql's error line."""
        done = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.portal_url],
            input=f"BEGIN;\nSET LOCAL prm.partner_org = {sql_text(org)};\n"
                  f"SET LOCAL prm.partner_user = {sql_text(user)};\n{sql}\nCOMMIT;\n",
            capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return None
        return next((line for line in done.stderr.splitlines() if line.startswith("ERROR")), done.stderr.strip())


class Http:
    """JSON over HTTPS to one emulator, trusting its generated CA."""

    def __init__(self, base_url, ca_file):
        self.base_url = base_url
        self.context = ssl.create_default_context(cafile=ca_file)

    def call(self, method, url, body=None, headers=None, form=None):
        """Returns (status, parsed JSON body or None). HTTP errors are answers, not exceptions."""
        data = None
        all_headers = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if not url.startswith("https://"):
            url = self.base_url + url
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        try:
            return status, (json.loads(text) if text.strip() else None)
        except json.JSONDecodeError:
            return status, text

    def ok(self, method, url, body=None, headers=None, form=None, what=""):
        status, answer = self.call(method, url, body, headers, form)
        if status >= 300:
            raise DemoError(f"{what or method + ' ' + url}: HTTP {status}: {answer}")
        return answer

    def admin(self, method, path, body=None):
        """The emulator's admin API (/_emulator/...)."""
        return self.ok(method, "/_emulator/" + path, body, what=f"emulator admin {path}")


class Salesforce(Http):
    """The Salesforce REST API (v59.0) on the emulator."""

    API = "/services/data/v59.0/"

    def __init__(self, base_url, ca_file, client_id, client_secret, user_password):
        super().__init__(base_url, ca_file)
        self.client_id, self.client_secret, self.user_password = client_id, client_secret, user_password
        self.tokens = {}

    def token(self, username=None):
        """The integration user's token (client credentials), or a user's (password grant)."""
        if username not in self.tokens:
            form = {"client_id": self.client_id, "client_secret": self.client_secret}
            if username is None:
                form["grant_type"] = "client_credentials"
            else:
                form.update(grant_type="password", username=username, password=self.user_password)
            answer = self.ok("POST", "/services/oauth2/token", form=form, what=f"Salesforce login {username or ''}")
            self.tokens[username] = answer["access_token"]
        return self.tokens[username]

    def api(self, method, path, body=None, as_user=None):
        return self.ok(method, self.API + path, body, {"Authorization": "Bearer " + self.token(as_user)},
                       what=f"Salesforce {method} {path}")

    def query(self, soql):
        return self.api("GET", "query?q=" + urllib.parse.quote(soql))["records"]

    def create(self, sobject, fields):
        return self.api("POST", f"sobjects/{sobject}", fields)["id"]

    def record(self, sobject, prm_id, fields):
        rows = self.query(f"SELECT Id, {', '.join(fields)} FROM {sobject} WHERE PRM_Id__c = {sql_text(prm_id)}")
        return rows[0] if rows else None

    def manual_shares(self, sobject, record_id):
        """{principal id: Read|Edit} of a record's Manual share rows."""
        share, key, level = (("OpportunityShare", "OpportunityId", "OpportunityAccessLevel") if sobject == "Opportunity"
                             else ("AccountShare", "AccountId", "AccountAccessLevel"))
        rows = self.query(f"SELECT UserOrGroupId, {level} FROM {share} WHERE {key} = {sql_text(record_id)} "
                          "AND RowCause = 'Manual'")
        return {row["UserOrGroupId"]: row[level] for row in rows}


class Dataverse(Http):
    """The Dataverse Web API (v9.2) on the emulator."""

    API = "/api/data/v9.2/"

    def __init__(self, base_url, ca_file, tenant, client_id, client_secret):
        super().__init__(base_url, ca_file)
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.access_token = None

    def token(self):
        if self.access_token is None:
            answer = self.ok("POST", f"/{self.tenant}/oauth2/v2.0/token",
                             form={"grant_type": "client_credentials", "client_id": self.client_id,
                                   "client_secret": self.client_secret, "scope": self.base_url + "/.default"},
                             what="Dataverse token")
            self.access_token = answer["access_token"]
        return self.access_token

    def api(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.token(), "OData-Version": "4.0", "Accept": "application/json"}
        return self.call(method, self.API + path, body, headers)

    def by_prm_id(self, entity_set, prm_id, columns):
        """The row whose alternate key crmsync_prmid is `prm_id`, or None."""
        status, row = self.api("GET", f"{entity_set}(crmsync_prmid={sql_text(prm_id)})?$select={','.join(columns)}")
        if status == 404:
            return None
        if status >= 300:
            raise DemoError(f"Dataverse GET {entity_set} by crmsync_prmid: HTTP {status}: {row}")
        return row

    def shared_principals(self, entity_set, row_id):
        """{principal id: access mask} of a row's shares (RetrieveSharedPrincipalsAndAccess)."""
        target = urllib.parse.quote("{'@odata.id':'" + f"{entity_set}({row_id})" + "'}")
        status, answer = self.api("GET", f"RetrieveSharedPrincipalsAndAccess(Target=@t)?@t={target}")
        if status >= 300:
            raise DemoError(f"Dataverse RetrieveSharedPrincipalsAndAccess: HTTP {status}: {answer}")
        return {access["Principal"]["ownerid"]: access["AccessMask"] for access in answer["PrincipalAccesses"]}

    def revoke_team(self, logical_name, row_id, team_id):
        body = {"Target": {f"{logical_name}id": row_id, "@odata.type": f"Microsoft.Dynamics.CRM.{logical_name}"},
                "Revokee": {"teamid": team_id, "@odata.type": "Microsoft.Dynamics.CRM.team"}}
        status, answer = self.api("POST", "RevokeAccess", body)
        if status >= 300:
            raise DemoError(f"Dataverse RevokeAccess: HTTP {status}: {answer}")
