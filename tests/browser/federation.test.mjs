// Single sign-on across the federation, in a real browser: a national node and a local node
// (each on its own loopback address, as two portals have their own hosts). Logged in on the
// national node, a citizen opens the local node's portal and is already logged in there; a
// visitor who is logged in nowhere opens it and stays a visitor, without a loop.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, launchBrowser, sleep, startServer, stopServer } from './harness.mjs';

const PASSWORD = 'thu-nghiem-motcua-2026';
let national;
let local;
let browser;

before(async () => {
  national = await startServer({ env: { MOTCUA_FEDERATION__ROLE: 'national' } });
  local = await startServer({
    host: '127.0.0.2',
    env: {
      MOTCUA_FEDERATION__ROLE: 'local',
      MOTCUA_FEDERATION__NODE_ID: 'dia-phuong-1',
      MOTCUA_FEDERATION__NATIONAL_URL: national.origin,
      MOTCUA_FEDERATION__AGENCIES: '["*.H26"]',
      MOTCUA_FEDERATION__RETRY_MAX_SECONDS: '1',
    },
  });
  // The national operator approves the local node once it has registered.
  const { MOTCUA_BIN: _bin, ...env } = process.env;
  let approved = false;
  for (let i = 0; i < 100 && !approved; i++) {
    const r = spawnSync(BIN, ['--data', national.dataDir, 'federation', 'approve', 'dia-phuong-1'], { env });
    approved = r.status === 0;
    if (!approved) await sleep(200);
  }
  assert.ok(approved, 'the local node never registered');
  // The local node learns its single sign-on client on its next round.
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    const r = await fetch(`${local.origin}/dang-nhap/quoc-gia`, { redirect: 'manual' });
    ready = r.status === 303;
    if (!ready) await sleep(200);
  }
  assert.ok(ready, 'single sign-on was never set up on the local node');
  browser = await launchBrowser();
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await stopServer(local);
    await stopServer(national);
  }
});

test('logged in on the national node, a citizen is logged in on a local node', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${national.origin}/dang-nhap`);
  await page.fill('#login', '001095012345');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);

  // The local portal: through the national node and back, without a form.
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));
  await page.goto(`${local.origin}/thu-tuc`);
  assert.equal(new URL(page.url()).origin, local.origin);
  assert.equal(new URL(page.url()).pathname, '/thu-tuc');
  assert.ok(seen.some((u) => u.startsWith(`${national.origin}/oidc/authorize`)), seen.join(' '));
  assert.ok(!seen.some((u) => u.includes('/dang-nhap?')), 'no login form on the way');
  await page.goto(`${local.origin}/tai-khoan`);
  assert.equal(new URL(page.url()).pathname, '/tai-khoan', 'not sent to the login form');
  assert.match(await page.textContent('main'), /Nguyễn Văn An/);
  await ctx.close();
});

test('an official keeps the local node roles', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${national.origin}/dang-nhap`);
  await page.fill('#login', 'tiepnhan');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
  await page.goto(`${local.origin}/tai-khoan`);
  assert.equal(new URL(page.url()).pathname, '/tai-khoan');
  assert.match(await page.textContent('main'), /tiepnhan|Tiếp nhận|tiếp nhận/i);
  // The desk official's list of the agency's dossiers on the local node.
  const res = await page.goto(`${local.origin}/ho-so`);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/ho-so');
  await ctx.close();
});

test('a visitor logged in nowhere stays a visitor on the local node', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));
  await page.goto(`${local.origin}/thu-tuc`);
  assert.equal(new URL(page.url()).origin, local.origin);
  assert.equal(new URL(page.url()).pathname, '/thu-tuc');
  assert.ok(seen.some((u) => u.startsWith(`${national.origin}/oidc/authorize`)), seen.join(' '));
  // Asked once: the next page does not go to the national node again.
  const before = seen.length;
  await page.goto(`${local.origin}/co-quan`);
  assert.equal(new URL(page.url()).pathname, '/co-quan');
  assert.ok(!seen.slice(before).some((u) => u.startsWith(national.origin)), seen.join(' '));
  await page.goto(`${local.origin}/tai-khoan`);
  assert.match(new URL(page.url()).pathname, /^\/dang-nhap/);
  await ctx.close();
});
