// DynamicsWebApi, unchanged, against the Dataverse emulator (started with --page-size 3).
// Usage: node dataverse.mjs https://127.0.0.1:PORT
import { DynamicsWebApi } from 'dynamics-web-api';
import { check, equal, expect, finish, rejects } from './check.mjs';

const base = process.argv[2];

async function token() {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: 'crmsync-emulator-client',
    client_secret: 'crmsync-emulator-secret',
    scope: `${base}/.default`,
  });
  const response = await fetch(`${base}/tenant-1/oauth2/v2.0/token`, { method: 'POST', body });
  const json = await response.json();
  if (!response.ok) throw new Error(`token: ${JSON.stringify(json)}`);
  return json.access_token;
}

const accessToken = await token();
const api = new DynamicsWebApi({
  serverUrl: base,
  dataApi: { version: '9.2' },
  onTokenRefresh: async () => accessToken,
});

await check('WhoAmI', async () => {
  const who = await api.callFunction('WhoAmI');
  expect(/^[0-9a-f-]{36}$/.test(who.UserId), JSON.stringify(who));
});

let id;
await check('create, retrieve, update, delete', async () => {
  id = await api.create({ collection: 'accounts', data: { name: 'Conformance', revenue: 10 } });
  expect(/^[0-9a-f-]{36}$/.test(id), `id ${id}`);
  const row = await api.retrieve({ collection: 'accounts', key: id, select: ['name', 'revenue'] });
  equal(row.name, 'Conformance', 'name');
  expect(typeof row.oDataEtag === 'string' || typeof row['@odata.etag'] === 'string', 'etag');
  const updated = await api.update({ collection: 'accounts', key: id, data: { telephone1: '555' }, returnRepresentation: true });
  equal(updated.telephone1, '555', 'telephone1');
  await api.deleteRecord({ collection: 'accounts', key: id });
  const gone = await rejects(() => api.retrieve({ collection: 'accounts', key: id }), 'retrieve deleted');
  equal(gone.status, 404, 'status');
  equal(gone.code, '0x80040217', 'code');
});

await check('upsert by alternate key', async () => {
  const created = await api.upsert({ collection: 'accounts', key: "crmsync_prmid='CONF-1'", data: { name: 'Keyed' }, returnRepresentation: true });
  equal(created.crmsync_prmid, 'CONF-1', 'crmsync_prmid');
  await api.upsert({ collection: 'accounts', key: "crmsync_prmid='CONF-1'", data: { name: 'Keyed 2' } });
  const row = await api.retrieve({ collection: 'accounts', key: "crmsync_prmid='CONF-1'", select: ['name'] });
  equal(row.name, 'Keyed 2', 'name');
  // Create-only upsert on an existing row: the library swallows the 412 and returns null.
  const none = await api.upsert({ collection: 'accounts', key: "crmsync_prmid='CONF-1'", data: { name: 'x' }, ifnonematch: '*' });
  equal(none, null, 'ifnonematch upsert result');
});

await check('batch with a change set', async () => {
  api.startBatch();
  for (let i = 0; i < 5; i += 1) api.create({ collection: 'accounts', data: { name: `Batch ${i}`, revenue: i } });
  const results = await api.executeBatch();
  equal(results.length, 5, 'results');
  expect(results.every((r) => /^[0-9a-f-]{36}$/.test(r)), JSON.stringify(results));
});

await check('batch errors surface per request', async () => {
  api.startBatch();
  api.create({ collection: 'accounts', data: { name: 'Fine' } });
  api.create({ collection: 'accounts', data: { nope: 1 } });
  const error = await rejects(() => api.executeBatch(), 'executeBatch');
  const first = Array.isArray(error) ? error.find((e) => e && e.status) : error;
  expect(first && first.status === 400, JSON.stringify(error));
  const fine = await api.retrieveMultiple({ collection: 'accounts', filter: "name eq 'Fine'" });
  equal(fine.value.length, 0, 'change set rolled back');
});

await check('query with paging: retrieveMultiple nextLink and retrieveAll', async () => {
  const first = await api.retrieveMultiple({ collection: 'accounts', select: ['name'], filter: "startswith(name,'Batch')", orderBy: ['name'], maxPageSize: 2 });
  equal(first.value.length, 2, 'page size');
  expect(typeof first.oDataNextLink === 'string', 'oDataNextLink');
  const second = await api.retrieveMultiple({ collection: 'accounts', select: ['name'], maxPageSize: 2 }, first.oDataNextLink);
  equal(second.value[0].name, 'Batch 2', 'second page');
  const all = await api.retrieveAll({ collection: 'accounts', select: ['name'], filter: "startswith(name,'Batch')", maxPageSize: 2 });
  equal(all.value.length, 5, 'retrieveAll');
  const count = await api.count({ collection: 'accounts', filter: "startswith(name,'Batch')" });
  equal(count, 5, 'count');
});

await check('change tracking: delta link with changes and deletions', async () => {
  const initial = await api.retrieveAll({ collection: 'accounts', select: ['name'], trackChanges: true });
  expect(typeof initial.oDataDeltaLink === 'string', 'oDataDeltaLink');
  const newId = await api.create({ collection: 'accounts', data: { name: 'After snapshot' } });
  const doomed = await api.retrieveMultiple({ collection: 'accounts', filter: "name eq 'Batch 0'", select: ['name'] });
  await api.deleteRecord({ collection: 'accounts', key: doomed.value[0].accountid });
  const changes = await api.retrieveMultiple({ collection: 'accounts' }, initial.oDataDeltaLink);
  const changed = changes.value.filter((v) => v.name).map((v) => v.name);
  const removed = changes.value.filter((v) => v.reason === 'deleted').map((v) => v.id);
  expect(changed.includes('After snapshot'), JSON.stringify(changes.value));
  expect(removed.includes(doomed.value[0].accountid), JSON.stringify(changes.value));
  expect(newId, 'new id');
});

await check('errors surface as DynamicsWebApi errors with code and status', async () => {
  const error = await rejects(() => api.retrieveMultiple({ collection: 'accounts', select: ['nope'] }), 'select');
  equal(error.status, 400, 'status');
  expect(/Could not find a property named 'nope'/.test(error.message), error.message);
  // With ifmatch the library's update swallows a 412 and answers false ...
  const swallowed = await api.update({ collection: 'accounts', key: "crmsync_prmid='CONF-1'", data: { name: 'x' }, ifmatch: 'W/"1"' });
  equal(swallowed, false, 'update with a stale ifmatch');
  // ... and with propagateErrors it throws the typed error.
  const strict = new DynamicsWebApi({ serverUrl: base, dataApi: { version: '9.2' }, onTokenRefresh: async () => accessToken, propagateErrors: true });
  const stale = await rejects(() => strict.update({ collection: 'accounts', key: "crmsync_prmid='CONF-1'", data: { name: 'x' }, ifmatch: 'W/"1"' }), 'stale update');
  equal(stale.status, 412, 'stale status');
  equal(stale.code, '0x80060882', 'stale code');
});

finish('DynamicsWebApi');
