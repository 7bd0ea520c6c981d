// Real-browser tests of accounts: a citizen registers and logs out everywhere; an administrator
// logs in and is made to set up two-factor authentication, with codes computed here as an
// authenticator app would (RFC 6238: HMAC-SHA-1, 6 digits, 30 s).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startServer, stopServer, totp } from './harness.mjs';

const PASSWORD = 'thu-nghiem-motcua-2026';
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await stopServer(server);
  }
});

test('the code generator agrees with RFC 6238', () => {
  // RFC 6238 appendix B, SHA-1, T = 59 s, secret "12345678901234567890" (8 digits 94287082).
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  assert.equal(totp(secret, 59), '287082');
});

test('a citizen registers, opens a second session, and logs out everywhere', async () => {
  const a = await browser.newContext({ baseURL: server.origin });
  const page = await a.newPage();
  await page.goto('/dang-ky');
  await page.fill('#full_name', 'Lê Thị Thu');
  await page.fill('#cccd', '079301000456');
  await page.fill('#birth_date', '2001-08-15');
  await page.check('input[name=sex][value=female]');
  await page.fill('#phone', '0987654321');
  await page.fill('#password', 'Trăng rằm tháng tám');
  await page.fill('#password2', 'Trăng rằm tháng tám');
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('[data-testid=full-name]'), 'Lê Thị Thu');

  // A second device logs in with the new account.
  const b = await browser.newContext({ baseURL: server.origin });
  const other = await b.newPage();
  await other.goto('/dang-nhap');
  await other.fill('#login', '079301000456');
  await other.fill('#password', 'Trăng rằm tháng tám');
  await Promise.all([other.waitForURL('**/tai-khoan'), other.click('button[type=submit]')]);

  await page.goto('/tai-khoan/phien');
  assert.equal(await page.locator('[data-testid=session]').count(), 2);
  await Promise.all([page.waitForURL('**/dang-nhap'), page.click('form[action="/tai-khoan/phien/dang-xuat-tat-ca"] button')]);

  // Both devices are logged out.
  await other.goto('/tai-khoan');
  assert.match(other.url(), /\/dang-nhap\?next=/);
  await page.goto('/tai-khoan');
  assert.match(page.url(), /\/dang-nhap\?next=/);
  await a.close();
  await b.close();
});

test('an administrator sets up two-factor at first login and needs a code afterwards', async () => {
  const ctx = await browser.newContext({ baseURL: server.origin });
  const page = await ctx.newPage();
  await page.goto('/dang-nhap');
  assert.ok(await page.locator('details.demo').isVisible(), 'the demo lists its accounts');
  await page.fill('#login', 'quantri');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/tai-khoan/xac-thuc-hai-buoc'), page.click('button[type=submit]')]);
  const secret = (await page.textContent('[data-testid=totp-secret]')).trim();
  // A wrong code is refused and the page says so.
  await page.fill('#code', '000000');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.alert[role=alert]'), /Mã xác thực không đúng/);
  await page.fill('#code', totp(secret));
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('[data-testid=full-name]'), 'Bùi Thị Hoa');
  assert.match(await page.textContent('main'), /Quản trị hệ thống/);

  // Log out, then in again: now a code is asked for. Wait for the next 30-second step, since
  // a code is accepted only once.
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('form[action="/dang-xuat"] button')]);
  const step = Math.floor(Date.now() / 30_000);
  while (Math.floor(Date.now() / 30_000) === step) await new Promise((r) => setTimeout(r, 250));
  await page.goto('/dang-nhap');
  await page.fill('#login', 'quantri');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/dang-nhap/xac-thuc**'), page.click('button[type=submit]')]);
  await page.fill('#code', totp(secret));
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('[data-testid=full-name]'), 'Bùi Thị Hoa');
  await ctx.close();
});
