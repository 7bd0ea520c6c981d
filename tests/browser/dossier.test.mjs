// A dossier's whole path so far, in a real browser: a business files online (form, uploads,
// submit), the desk receives it, the specialist and the department head pass it on, the leader
// approves (which signs the result), the desk returns it, the business sees it returned, prints
// its receipt, downloads the signed result and its signature (checked with openssl), and rates
// the service. Then the console: the desk receives its queue in one bulk action, and a
// specialist transfers a dossier to another agency (liên thông).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser, startServer, stopServer } from './harness.mjs';

const PASSWORD = 'thu-nghiem-motcua-2026';
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
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

// Whether `openssl cms -verify` accepts the detached signature over the content.
function opensslVerifies(dir, content, signature, certificate) {
  const file = (name, bytes) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const r = spawnSync('openssl', [
    'cms', '-verify', '-binary', '-inform', 'DER', '-purpose', 'any',
    '-in', file('result.p7s', signature),
    '-content', file('result.pdf', content),
    '-CAfile', file('agency.pem', certificate),
    '-out', path.join(dir, 'out'),
  ], { encoding: 'utf8' });
  assert.ok(!r.error, `openssl: ${r.error}`);
  return r.status === 0;
}

async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return fs.readFileSync(await dl.path());
}

async function loggedIn(login) {
  const ctx = await browser.newContext({ baseURL: server.origin });
  const page = await ctx.newPage();
  await page.goto('/dang-nhap');
  await page.fill('#login', login);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
  return { ctx, page };
}

test('a business files online and the agency carries the dossier to its return', async () => {
  const { ctx, page } = await loggedIn('0100109106');
  // From the procedure page to the generated form.
  await page.goto('/thu-tuc/2.001614');
  await Promise.all([page.waitForURL('**/thu-tuc/2.001614/nop'), page.click('[data-testid=file-online]')]);
  await page.selectOption('#agency', '000.00.02.H26');
  // Fill what is not prefilled, by the type of each field.
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('form input, form textarea, form select')) {
      if (!el.id.startsWith('f-') || el.value) continue;
      if (el.tagName === 'SELECT') el.selectedIndex = 1;
      else if (el.tagName === 'TEXTAREA') el.value = 'Số 2 Hàng Bài, phường Hoàn Kiếm, Hà Nội';
      else if (el.type === 'date') el.value = '2026-01-15';
      else if (el.type === 'number') el.value = '1';
      else if (el.type === 'email') el.value = 'lienhe@thunghiem.vn';
      else if (el.type === 'tel') el.value = '0912345678';
      else if (el.type === 'checkbox') el.checked = true;
      else el.value = 'Công ty Cổ phần Thử Nghiệm';
    }
  });
  assert.equal(await page.inputValue('#f-ma_so_doanh_nghiep'), '0100109106', 'the tax code comes from the account');
  await page.click('form button[type=submit]');
  await page.waitForLoadState('load');
  assert.match(page.url(), /\/ho-so\/[0-9a-f-]{36}$/, await page.textContent('main'));

  // Upload each required document, then submit.
  const names = await page.$$eval('#doc-name option', (os) => os.map((o) => o.textContent));
  for (const name of names.slice(0, -1)) {
    await page.selectOption('#doc-name', { label: name });
    await page.setInputFiles('#doc-file', { name: 'giay-to.pdf', mimeType: 'application/pdf', buffer: PDF });
    await Promise.all([page.waitForLoadState('load'), page.click('form[action$="/tai-lieu"] button[type=submit]')]);
  }
  assert.equal(await page.locator('[data-testid=documents] li').count(), names.length - 1);
  await Promise.all([page.waitForURL(/\/ho-so\/000\.00\.02\.H26-\d{6}-\d{4}$/), page.click('[data-action=submit]')]);
  const code = page.url().split('/').pop();
  assert.match(await page.textContent('[data-testid=status]'), /Đã nộp/);

  // The agency, each in turn, from its own session.
  for (const [login, action] of [
    ['tiepnhan', 'receive'],
    ['chuyenvien', 'forward'],
    ['truongphong', 'forward'],
    ['lanhdao', 'approve'],
    ['tiepnhan', 'return'],
  ]) {
    const o = await loggedIn(login);
    await o.page.goto(`/ho-so/${code}`);
    await Promise.all([o.page.waitForLoadState('load'), o.page.click(`[data-action=${action}]`)]);
    assert.equal(o.page.url(), `${server.origin}/ho-so/${code}`, `${login} ${action}`);
    await o.ctx.close();
  }

  await page.goto(`/ho-so/${code}`);
  assert.match(await page.textContent('[data-testid=status]'), /Đã trả kết quả/);
  assert.equal(await page.locator('[data-testid=history] li').count(), 7);
  // The business rates the service: "not satisfied" needs a reason.
  await page.check('input[name=rating][value=not_satisfied]');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-action=rate]')]);
  assert.match(await page.textContent('.alert[role=alert]'), /vì sao bạn không hài lòng/);
  await page.check('input[name=rating][value=satisfied]');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-action=rate]')]);
  assert.equal((await page.textContent('[data-testid=rating]')).trim(), 'satisfied');
  assert.equal(await page.locator('[data-action=rate]').count(), 0, 'rated once');

  // The slips it has, printable; the signed result, its signature and the agency's certificate.
  assert.deepEqual(
    await page.$$eval('[data-slip]', (as) => as.map((a) => a.dataset.slip)),
    ['receipt', 'control'],
  );
  const receipt = await page.request.get(await page.getAttribute('[data-slip=receipt]', 'href'));
  assert.equal(receipt.headers()['content-type'], 'application/pdf');
  assert.ok((await receipt.body()).subarray(0, 5).equals(Buffer.from('%PDF-')));
  const pdf = await download(page, '[data-testid=result-pdf]');
  const p7s = await download(page, '[data-testid=result-signature]');
  assert.ok(pdf.subarray(0, 5).equals(Buffer.from('%PDF-')));
  const cert = await page.request.get(await page.getAttribute('[data-testid=agency-certificate]', 'href'));
  assert.equal(cert.status(), 200);
  const pem = await cert.body();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'motcua-result-'));
  try {
    assert.ok(opensslVerifies(dir, pdf, p7s, pem), 'openssl cms -verify accepts the signed result');
    const tampered = Buffer.from(pdf);
    tampered[tampered.length >> 1] ^= 1;
    assert.ok(!opensslVerifies(dir, tampered, p7s, pem), 'and refuses it after one byte changed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Public tracking shows the same, with the phone's last four digits.
  const anon = await browser.newContext({ baseURL: server.origin });
  const t = await anon.newPage();
  await t.goto('/tra-cuu-ho-so');
  await t.fill('#ma', code);
  await t.fill('#so', '5678');
  await Promise.all([t.waitForLoadState('load'), t.click('button[type=submit]')]);
  assert.match(await t.textContent('[data-testid=status]'), /Đã trả kết quả/);
  await anon.close();
  await ctx.close();
});

test('the desk receives its queue in one go, and a specialist transfers a dossier to another agency', async () => {
  const desk = await loggedIn('tiepnhan');
  const page = desk.page;
  // Nothing ticked: told so, nothing done.
  await page.goto('/ho-so?trang_thai=submitted');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-bulk=receive]')]);
  assert.match(await page.textContent('[data-testid=bulk-notice]'), /Chọn từ 1 đến 100 hồ sơ/);
  // Everything waiting for the desk, ticked and received at once.
  await page.goto('/ho-so?trang_thai=submitted');
  const boxes = page.locator('input[name=ma]');
  const waiting = await boxes.evaluateAll((bs) => bs.map((b) => b.value));
  assert.ok(waiting.length >= 1, 'the demo has dossiers waiting for the desk');
  for (const code of waiting) await page.check(`input[name=ma][value="${code}"]`);
  await Promise.all([page.waitForLoadState('load'), page.click('[data-bulk=receive]')]);
  assert.match(
    await page.textContent('[data-testid=bulk-notice]'),
    new RegExp(`Đã thực hiện với ${waiting.length}/${waiting.length} hồ sơ`),
  );
  await page.goto('/ho-so?trang_thai=submitted');
  for (const code of waiting) assert.equal(await page.locator(`input[name=ma][value="${code}"]`).count(), 0);
  await desk.ctx.close();

  // The specialist hands the first of them to the city's Department of Justice.
  const cv = await loggedIn('chuyenvien');
  await cv.page.goto(`/ho-so/${waiting[0]}`);
  await cv.page.fill('#comment', 'Đề nghị Sở Tư pháp thẩm định');
  await cv.page.selectOption('#agency', '000.00.03.H26');
  await Promise.all([cv.page.waitForLoadState('load'), cv.page.click('[data-action=transfer]')]);
  assert.match(await cv.page.textContent('[data-testid=handler]'), /000\.00\.03\.H26/);
  assert.equal(await cv.page.locator('[data-action=forward]').count(), 0, 'no longer this agency\'s step');
  await cv.page.goto('/ho-so');
  assert.match(await cv.page.textContent('[data-testid=transferred]'), /000\.00\.03\.H26/);
  await cv.ctx.close();
});
