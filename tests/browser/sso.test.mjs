// Single sign-on in a real browser: an administrator registers a portal on the clients page;
// a citizen coming from that portal logs in, agrees on the consent page and lands back on the
// portal with a code, which the portal exchanges for tokens. Chromium applies the pages'
// Content-Security-Policy to the redirects after each form, so this is where a too-narrow
// `form-action` would show.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { launchBrowser, startServer, stopServer, totp } from './harness.mjs';

const PASSWORD = 'thu-nghiem-motcua-2026';
let server;
let browser;
let portal;
const arrivals = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  // The portal: records where the browser comes back to.
  portal = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname === '/cb') arrivals.push(u);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('cổng tỉnh: đã nhận');
  });
  await new Promise((r) => portal.listen(0, '127.0.0.1', r));
});

after(async () => {
  portal?.close();
  try {
    await browser?.close();
  } finally {
    await stopServer(server);
  }
});

const b64url = (buf) => buf.toString('base64url');

test('a citizen logs in to a registered portal through motcua', async () => {
  const cb = `http://127.0.0.1:${portal.address().port}/cb`;

  // The system administrator registers the portal.
  const admin = await browser.newContext({ baseURL: server.origin });
  const a = await admin.newPage();
  await a.goto('/dang-nhap');
  await a.fill('#login', 'quantri');
  await a.fill('#password', PASSWORD);
  await Promise.all([a.waitForURL('**/tai-khoan/xac-thuc-hai-buoc'), a.click('button[type=submit]')]);
  const secret = (await a.textContent('[data-testid=totp-secret]')).trim();
  await a.fill('#code', totp(secret));
  await Promise.all([a.waitForURL('**/tai-khoan'), a.click('button[type=submit]')]);
  await a.goto('/quan-tri/ung-dung');
  await a.fill('#name', 'Cổng dịch vụ công tỉnh thử nghiệm');
  await a.fill('#redirect_uris', cb);
  await a.check('input[name=scope][value=openid]');
  await a.check('input[name=scope][value=profile]');
  await a.check('input[name=scope][value=cccd]');
  await Promise.all([a.waitForLoadState('load'), a.click('form[action="/quan-tri/ung-dung"] button[type=submit]')]);
  const clientId = (await a.textContent('[data-testid=client-id]')).trim();
  const clientSecret = (await a.textContent('[data-testid=client-secret]')).trim();
  assert.match(clientSecret, /^mcs_/);
  await admin.close();

  // The citizen arrives from the portal.
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const q = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: cb, scope: 'openid profile cccd',
    state, nonce: 'n-0S6_WzA2Mj', code_challenge: challenge, code_challenge_method: 'S256',
  });
  const ctx = await browser.newContext({ baseURL: server.origin });
  const page = await ctx.newPage();
  await page.goto(`/oidc/authorize?${q}`);
  assert.match(page.url(), /\/dang-nhap\?next=/);
  await page.fill('#login', '001095012345');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/oidc/authorize**'), page.click('button[type=submit]')]);
  assert.equal((await page.textContent('[data-testid=client-name]')).trim(), 'Cổng dịch vụ công tỉnh thử nghiệm');
  assert.match(await page.textContent('[data-testid=scopes]'), /Số định danh cá nhân/);
  await Promise.all([page.waitForURL(`${cb}**`), page.click('button[name=decision][value=allow]')]);
  assert.match(await page.textContent('body'), /đã nhận/);

  const back = arrivals.at(-1);
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), server.origin);
  const code = back.searchParams.get('code');
  assert.ok(code);

  // The portal's server exchanges the code.
  const res = await fetch(`${server.origin}/oidc/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: cb, code_verifier: verifier }),
  });
  assert.equal(res.status, 200);
  const tokens = await res.json();
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
  assert.equal(claims.name, 'Nguyễn Văn An');
  assert.equal(claims.cccd, '001095012345');
  assert.equal(claims.nonce, 'n-0S6_WzA2Mj');
  assert.equal(claims.aud, clientId);

  // Next time the consent is remembered: straight back to the portal.
  const again = new URLSearchParams(q);
  again.set('state', 'lan-hai');
  await page.goto(`/oidc/authorize?${again}`);
  await page.waitForURL(`${cb}**`);
  assert.equal(arrivals.at(-1).searchParams.get('state'), 'lan-hai');

  // Logged out, the login form itself leads straight back to the portal: the login page's
  // policy lets its form end there.
  await page.goto('/tai-khoan');
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('form[action="/dang-xuat"] button')]);
  again.set('state', 'lan-ba');
  await page.goto(`/oidc/authorize?${again}`);
  await page.fill('#login', '001095012345');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${cb}**`), page.click('button[type=submit]')]);
  assert.equal(arrivals.at(-1).searchParams.get('state'), 'lan-ba');
  await ctx.close();
});
