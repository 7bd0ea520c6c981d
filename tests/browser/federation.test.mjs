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

// Logs `login` in on the national node's own form.
async function logInOnNational(page, login) {
  await page.goto(`${national.origin}/dang-nhap`);
  await page.fill('#login', login);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
}

test('logged in on the national node, a citizen is logged in on a local node', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await logInOnNational(page, '001095012345');

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
  await logInOnNational(page, 'tiepnhan');
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

// A bearer token of the local node, from its command line.
function localToken(login, scopes) {
  const { MOTCUA_BIN: _bin, ...env } = process.env;
  const args = ['--data', local.dataDir, 'user', 'token', login];
  for (const s of scopes) args.push('--scope', s);
  const r = spawnSync(BIN, args, { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

async function onLocal(token, method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body) headers['content-type'] = 'application/json';
  const r = await fetch(`${local.origin}${path}`, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

test('on the national node a citizen sees a local dossier, and its status changes live', async () => {
  const desk = localToken('tiepnhan', ['dossiers:write', 'dossiers:read', 'dossiers:handle']);
  const filed = await onLocal(desk, 'POST', '/api/v1/dossiers', {
    procedure: '2.001610',
    agency: '000.00.02.H26',
    form: {
      ten_doanh_nghiep: 'Công ty Liên thông Trình duyệt', dia_chi_tru_so: 'Hà Nội',
      von_dieu_le: 100, nganh_nghe: 'Thương mại', loai_chu_so_huu: 'Cá nhân',
      nguoi_dai_dien: 'Nguyễn Văn An', so_dinh_danh_nguoi_dai_dien: '001095012345',
      dien_thoai: '0912345678', email: 'an@example.vn',
    },
    applicant: { name: 'Nguyễn Văn An', phone: '0912345678', cccd: '001095012345' },
  });
  const code = filed.code;
  assert.match(code, /^000\.00\.02\.H26-/);

  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await logInOnNational(page, '001095012345');
  // The main navigation leads to the national list.
  await Promise.all([page.waitForURL('**/ho-so-toan-quoc'), page.click('nav a[href="/ho-so-toan-quoc"]')]);
  // The local node pushes within seconds; until then the list does not have it.
  let row = page.locator(`tr:has(a:text-is("${code}"))`);
  for (let i = 0; i < 60 && (await row.count()) === 0; i++) {
    await sleep(250);
    await page.reload();
    row = page.locator(`tr:has(a:text-is("${code}"))`);
  }
  assert.equal(await row.count(), 1, await page.textContent('main'));
  assert.match(await row.locator('[data-field=status]').textContent(), /Đã nộp/);
  assert.match(await row.textContent(), /Đăng ký thành lập|2\.001610/);
  // The code links to the local node's tracking page for it.
  assert.equal(await row.locator('a').getAttribute('href'), `${local.origin}/tra-cuu-ho-so?ma=${code}`);

  // The desk receives it on the local node; the open page shows the new status by itself.
  await onLocal(desk, 'POST', `/api/v1/dossiers/${code}/actions/receive`);
  await page.evaluate(() => { window.stillThisPage = true; });
  let status = '';
  for (let i = 0; i < 60 && !/Đã tiếp nhận/.test(status); i++) {
    await sleep(250);
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    status = await row.locator('[data-field=status]').textContent();
  }
  assert.match(status, /Đã tiếp nhận/);
  // Without a reload; a screen reader hears what changed.
  assert.match(await page.textContent('[data-testid=live]'), /Đã cập nhật lúc/);
  assert.equal(await page.textContent('[data-testid=changes]'), `${code}: Đã tiếp nhận`);
  assert.equal(await page.evaluate(() => window.stillThisPage), true);

  // There, four digits of the phone number show the dossier as the local node has it.
  await Promise.all([page.waitForURL(`${local.origin}/tra-cuu-ho-so?ma=${code}`), row.locator('a').click()]);
  assert.equal(await page.inputValue('#ma'), code);
  await page.fill('#so', '5678');
  await Promise.all([page.waitForLoadState('load'), page.click('main form button[type=submit]')]);
  assert.match(await page.textContent('[data-testid=tracking]'), /Đã tiếp nhận/);
  await ctx.close();
});
