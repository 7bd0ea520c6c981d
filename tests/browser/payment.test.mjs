// Paying a dossier's fees in a real browser: a citizen files a permanent residence
// registration online, chooses the online rate, pays in the sandbox gateway, comes back to
// the confirmation, and downloads the receipt; the dossier page shows the fee paid.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, loggedIn as logInAs, startServer, stopServer, PHONE } from './harness.mjs';

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

const loggedIn = (login, options = {}) => logInAs(browser, server.origin, login, options);

test('a citizen pays online in the sandbox gateway and gets the receipt', async () => {
  const { ctx, page } = await loggedIn('001095012345', { ...PHONE });
  await page.goto('/thu-tuc/1.004222/nop');
  await page.selectOption('#agency', '000.01.01.G01');
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('form input, form textarea, form select')) {
      if (!el.id.startsWith('f-') || el.value) continue;
      if (el.tagName === 'SELECT') el.selectedIndex = 1;
      else if (el.tagName === 'TEXTAREA') el.value = 'Số 5 phố Tràng Tiền, phường Hoàn Kiếm, Hà Nội';
      else if (el.type === 'date') el.value = '1995-01-15';
      else if (el.type === 'tel') el.value = '0912345678';
      else if (el.type === 'email') el.value = 'an@thunghiem.vn';
      else if (el.type === 'checkbox') el.checked = true;
      else el.value = 'Nguyễn Văn An';
    }
  });
  await page.click('form button[type=submit]');
  await page.waitForLoadState('load');
  assert.match(page.url(), /\/ho-so\/[0-9a-f-]{36}$/, await page.textContent('main'));
  const names = await page.$$eval('#doc-name option', (os) => os.map((o) => o.textContent));
  for (const name of names.slice(0, -1)) {
    await page.selectOption('#doc-name', { label: name });
    await page.setInputFiles('#doc-file', { name: 'giay-to.pdf', mimeType: 'application/pdf', buffer: PDF });
    await Promise.all([page.waitForLoadState('load'), page.click('form[action$="/tai-lieu"] button[type=submit]')]);
  }
  await Promise.all([page.waitForURL(/\/ho-so\/000\.01\.01\.G01-\d{6}-\d{4}$/), page.click('[data-action=submit]')]);
  const code = page.url().split('/').pop();
  assert.match(await page.textContent('[data-testid=fee]'), /Chưa nộp/);

  // The fees page: the online rate, then the sandbox gateway.
  await Promise.all([page.waitForURL(`**/ho-so/${code}/thanh-toan`), page.click('[data-testid=pay-link]')]);
  await page.check('input[name=case_0][value="1"]');
  await Promise.all([page.waitForURL('**/cong-thanh-toan-thu-nghiem?**'), page.click('[data-testid=pay]')]);
  assert.match(await page.textContent('[data-testid=sandbox-amount]'), /10\.000/);
  await Promise.all([page.waitForURL('**/thanh-toan/ket-qua/sandbox?**'), page.click('[data-testid=sandbox-pay]')]);
  // The gateway's confirmation came server to server before the browser returned.
  assert.match(await page.textContent('[data-testid=return]'), /Thanh toán thành công/);

  await Promise.all([page.waitForURL(`**/ho-so/${code}/thanh-toan`), page.click('[data-testid=back-to-fees]')]);
  assert.match(await page.textContent('[data-testid=fee-status]'), /Đã hoàn thành/);
  assert.equal(await page.locator('[data-testid=pay-form]').count(), 0, 'nothing more to pay');
  const receipt = await page.request.get(await page.getAttribute('[data-testid=receipt]', 'href'));
  assert.equal(receipt.status(), 200);
  assert.equal(receipt.headers()['content-type'], 'application/pdf');
  assert.ok((await receipt.body()).subarray(0, 5).equals(Buffer.from('%PDF-')));
  await ctx.close();

  // The dossier page shows the fee paid; the desk's receive is no longer held back.
  const again = await loggedIn('001095012345');
  await again.page.goto(`/ho-so/${code}`);
  assert.match(await again.page.textContent('[data-testid=fee]'), /Đã nộp/);
  await again.ctx.close();
});

test("the ward police's accountant reconciles the day with the gateway's statement", async () => {
  const { ctx, page } = await loggedIn('ketoan');
  await page.goto('/ke-toan');
  // The demo's payment through the sandbox, with the first receipt of the year.
  const demo = page.locator('[data-testid=agency-payments] tbody tr', { hasText: '— 0000001' });
  assert.equal(await demo.count(), 1);
  assert.match(await demo.textContent(), /Đã thanh toán/);
  const ref = (await demo.locator('td').nth(1).textContent()).trim().split(/\s+/)[0];

  // The statement has it, and one line this node never saw.
  const csv = `txn_ref,amount,transaction_no,bank_code\n${ref},10000,13900001,NCB\nLAMLA0001,25000,13900002,VCB\n`;
  await page.selectOption('#provider', 'sandbox');
  await page.setInputFiles('#file', { name: 'bang-ke.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await Promise.all([page.waitForURL('**/ke-toan/bang-ke/**'), page.click('[data-testid=statement-form] button[type=submit]')]);
  assert.equal((await page.textContent('[data-testid=matched]')).trim(), '1');
  assert.equal((await page.textContent('[data-testid=missing-ours]')).trim(), '1');
  assert.match(await page.textContent('main'), /LAMLA0001/);

  // A file that is not a statement is refused with the line named, and nothing is kept.
  await page.goto('/ke-toan');
  await page.setInputFiles('#file', { name: 'sai.csv', mimeType: 'text/csv', buffer: Buffer.from('txn_ref,amount\nX1,mot nghin\n') });
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=statement-form] button[type=submit]')]);
  assert.match(await page.textContent('.alert[role=alert]'), /Dòng 2/);
  await ctx.close();
});
