// jsforce, unchanged, against the Salesforce emulator (started with --page-size 3).
// Usage: node salesforce.mjs https://127.0.0.1:PORT
import jsforce from 'jsforce';
import { check, equal, expect, finish, rejects } from './check.mjs';

const base = process.argv[2];
const clientId = 'crmsync-emulator-client';
const clientSecret = 'crmsync-emulator-secret';
const version = '59.0';
const oauth2 = { loginUrl: base, clientId, clientSecret, redirectUri: `${base}/callback` };

const conn = new jsforce.Connection({ oauth2, version });

await check('OAuth2 password login sets instanceUrl and user info', async () => {
  const info = await conn.login('integration@crmsync.emulator', 'crmsync-emulator-password');
  equal(conn.instanceUrl, base, 'instanceUrl');
  expect(/^005/.test(info.id), `user id ${info.id}`);
  expect(/^00D/.test(info.organizationId), `org id ${info.organizationId}`);
});

await check('bad password surfaces the OAuth error', async () => {
  const other = new jsforce.Connection({ oauth2, version });
  const error = await rejects(() => other.login('integration@crmsync.emulator', 'wrong'), 'login');
  expect(/authentication failure/.test(error.message), error.message);
});

let accountId;
await check('create, retrieve, update, delete one record', async () => {
  const created = await conn.sobject('Account').create({ Name: 'Conformance One', PRM_Id__c: 'CONF-1' });
  expect(created.success && /^001[A-Za-z0-9]{15}$/.test(created.id), JSON.stringify(created));
  accountId = created.id;
  const record = await conn.sobject('Account').retrieve(accountId);
  equal(record.Name, 'Conformance One', 'Name');
  equal(record.attributes.type, 'Account', 'attributes.type');
  const updated = await conn.sobject('Account').update({ Id: accountId, Phone: '555-0100' });
  expect(updated.success, JSON.stringify(updated));
  equal((await conn.sobject('Account').retrieve(accountId)).Phone, '555-0100', 'Phone');
  expect(conn.limitInfo && conn.limitInfo.apiUsage && conn.limitInfo.apiUsage.used > 0, 'limitInfo from Sforce-Limit-Info');
});

await check('upsert by external id creates then updates', async () => {
  const first = await conn.sobject('Account').upsert({ Name: 'Upserted', PRM_Id__c: 'CONF-UP' }, 'PRM_Id__c');
  expect(first.success && first.created === true, JSON.stringify(first));
  const second = await conn.sobject('Account').upsert({ Name: 'Upserted again', PRM_Id__c: 'CONF-UP' }, 'PRM_Id__c');
  expect(second.success && second.created === false, JSON.stringify(second));
  const rows = await conn.query("SELECT Name FROM Account WHERE PRM_Id__c = 'CONF-UP'");
  equal(rows.totalSize, 1, 'rows');
  equal(rows.records[0].Name, 'Upserted again', 'Name');
});

let batchIds = [];
await check('array create and delete go through sObject Collections', async () => {
  const records = Array.from({ length: 7 }, (_, i) => ({ Name: `Bulk ${i}`, AnnualRevenue: i * 10 }));
  const results = await conn.sobject('Account').create(records);
  equal(results.length, 7, 'results');
  expect(results.every((r) => r.success), JSON.stringify(results));
  batchIds = results.map((r) => r.id);
  const fetched = await conn.sobject('Account').retrieve(batchIds.slice(0, 3));
  equal(fetched.length, 3, 'retrieved');
  equal(fetched[2].Name, 'Bulk 2', 'Name');
});

await check('query with paging: done/nextRecordsUrl and queryMore', async () => {
  const first = await conn.query("SELECT Id, Name FROM Account WHERE Name LIKE 'Bulk%' ORDER BY Name");
  equal(first.totalSize, 7, 'totalSize');
  equal(first.done, false, 'done');
  equal(first.records.length, 3, 'page size');
  const second = await conn.queryMore(first.nextRecordsUrl);
  equal(second.records[0].Name, 'Bulk 3', 'second page');
  const all = [];
  await new Promise((resolve, reject) => {
    conn.query("SELECT Id, Name FROM Account WHERE Name LIKE 'Bulk%'")
      .on('record', (r) => all.push(r))
      .on('end', resolve)
      .on('error', reject)
      .run({ autoFetch: true, maxFetch: 100 });
  });
  equal(all.length, 7, 'autoFetch records');
});

await check('queryAll sees deleted rows', async () => {
  const deleted = await conn.sobject('Account').destroy(batchIds.slice(0, 2));
  expect(deleted.every((r) => r.success), JSON.stringify(deleted));
  const all = await conn.query('SELECT Id FROM Account WHERE IsDeleted = true', { scanAll: true });
  equal(all.totalSize, 2, 'deleted rows');
  const live = await conn.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Bulk%'");
  equal(live.totalSize, 5, 'live rows');
});

await check('describe shows the external id field', async () => {
  const meta = await conn.sobject('Opportunity').describe();
  const field = meta.fields.find((f) => f.name === 'PRM_Id__c');
  expect(field && field.externalId === true, 'PRM_Id__c externalId');
});

await check('errors surface as typed jsforce errors', async () => {
  const missing = await rejects(() => conn.sobject('Account').create({ Phone: 'no name' }), 'create');
  equal(missing.errorCode, 'REQUIRED_FIELD_MISSING', 'create errorCode');
  const malformed = await rejects(() => conn.query('SELEC Id FROM Account'), 'query');
  equal(malformed.errorCode, 'MALFORMED_QUERY', 'query errorCode');
  const invalidField = await rejects(() => conn.query('SELECT Nope__c FROM Account'), 'query');
  equal(invalidField.errorCode, 'INVALID_FIELD', 'invalid field errorCode');
  await conn.sobject('Account').create([{ Name: 'Twin 1', PRM_Id__c: 'TWIN' }, { Name: 'Twin 2', PRM_Id__c: 'TWIN' }]);
  const ambiguous = await rejects(() => conn.sobject('Account').upsert({ Name: 'x', PRM_Id__c: 'TWIN' }, 'PRM_Id__c'), 'upsert');
  equal(ambiguous.errorCode, 'MULTIPLE_CHOICES', 'upsert errorCode');
  const notFound = await rejects(() => conn.sobject('Account').retrieve('001000000000000AAA'), 'retrieve');
  equal(notFound.errorCode, 'NOT_FOUND', 'retrieve errorCode');
});

await check('an expired session is refreshed with the refresh token and the call replayed', async () => {
  const minted = await fetch(`${base}/_emulator/oauth/refresh-token`, { method: 'POST' }).then((r) => r.json());
  const refreshing = new jsforce.Connection({
    oauth2, version, instanceUrl: base, accessToken: 'expired-token', refreshToken: minted.refresh_token,
  });
  let refreshed = false;
  refreshing.on('refresh', () => { refreshed = true; });
  const result = await refreshing.query('SELECT Id FROM Account LIMIT 1');
  equal(result.records.length, 1, 'records');
  expect(refreshed, 'refresh event');
});

await check('REQUEST_LIMIT_EXCEEDED once the daily allocation is spent', async () => {
  await fetch(`${base}/_emulator/faults`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ method: 'POST', path: '/services/data/*/sobjects/Account', status: 403, times: 1 }),
  });
  const limited = await rejects(() => conn.sobject('Account').create({ Name: 'over' }), 'create');
  equal(limited.errorCode, 'REQUEST_LIMIT_EXCEEDED', 'errorCode');
});

finish('jsforce');
