// The command centre in a real browser: the national operator drills from the country down to
// one procedure of one agency, the crumbs lead back up, and the Excel export opens and says
// what the page says; the public page with the rankings needs no login and fits a phone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import readXlsxFile from 'read-excel-file/node';
import { launchBrowser, loggedIn as logInAs, startServer, stopServer, PHONE, SHOTS } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ history: 4000 });
  browser = await launchBrowser();
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await stopServer(server);
  }
});

const loggedIn = (login, options = {}) => logInAs(browser, server.origin, login, { acceptDownloads: true, ...options });

const number = (s) => Number(String(s).replace(/\./g, '').trim());

test('the national operator drills down to a procedure and exports what the page shows', async () => {
  const { ctx, page } = await loggedIn('vanhanh');
  await page.goto('/dieu-hanh?from=2025-01-01&to=2026-12-31');
  assert.equal((await page.textContent('[data-testid=title]')).trim(), 'Toàn quốc');
  const received = number(await page.textContent('[data-testid=kpi-received]'));
  assert.ok(received > 3000, `the year's history is counted: ${received}`);
  assert.ok(await page.locator('[data-testid=series] svg').count() === 1, 'the series is drawn');
  assert.ok(await page.locator('[data-testid=ranking-chart] svg rect').count() > 1, 'the ranking is drawn');
  await page.screenshot({ path: `${SHOTS}/dieu-hanh-toan-quoc.png`, fullPage: true });

  // The provinces add up to the country.
  const rows = page.locator('[data-testid=children] tbody tr');
  const cells = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[2].textContent));
  assert.equal(cells.map(number).reduce((a, b) => a + b, 0), received);

  // Down: Hà Nội, then its busiest agency, then its busiest procedure.
  await Promise.all([page.waitForURL('**province=01**'), page.click('[data-testid=children] tr[data-code="01"] a')]);
  assert.equal((await page.textContent('[data-testid=title]')).trim(), 'Thành phố Hà Nội');
  const province = number(await page.textContent('[data-testid=kpi-received]'));
  assert.ok(province > 0 && province < received);
  const agencyRow = page.locator('[data-testid=children] tbody tr', { has: page.locator('a') }).first();
  const agencyCode = await agencyRow.getAttribute('data-code');
  await Promise.all([page.waitForURL(`**agency=${agencyCode}**`), agencyRow.locator('a').click()]);
  assert.equal(await page.locator('[data-testid=crumbs] a').count(), 3);
  const agency = number(await page.textContent('[data-testid=kpi-received]'));
  assert.ok(agency > 0 && agency <= province);
  const procRow = page.locator('[data-testid=children] tbody tr').first();
  const procCode = await procRow.getAttribute('data-code');
  await Promise.all([page.waitForURL(`**procedure=${procCode}**`), procRow.locator('a').click()]);
  assert.equal(await page.locator('[data-testid=crumbs] a').count(), 4);
  const procedure = number(await page.textContent('[data-testid=kpi-received]'));
  assert.ok(procedure > 0 && procedure <= agency);

  // The export of the agency opens as a workbook whose total is the page's.
  await page.click('[data-testid=crumbs] a:nth-child(3)');
  await page.waitForURL(`**agency=${agencyCode}**`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-xlsx]')]);
  assert.match(download.suggestedFilename(), /\.xlsx$/);
  const sheets = await readXlsxFile(await download.path());
  assert.deepEqual(sheets.map((s) => s.sheet), ['Tong hop', 'Thu tuc', 'Theo thoi gian']);
  const lines = sheets[1].data;
  assert.equal(lines[0][3], 'Tiếp nhận trực tuyến');
  const total = lines[lines.length - 1];
  assert.equal(total[1], 'Tổng cộng');
  assert.equal(Number(total[3]) + Number(total[4]), agency);
  assert.ok(lines.some((l) => l[0] === procCode), 'the procedure is a line of the workbook');
  await ctx.close();
});

test('the public page ranks the provinces without a login, on a phone', async () => {
  const ctx = await browser.newContext({ baseURL: server.origin, ...PHONE });
  const page = await ctx.newPage();
  await page.goto('/cong-khai');
  await page.click('text=12 tháng qua');
  const ranked = page.locator('[data-testid=provinces] tbody tr');
  assert.ok(await ranked.count() >= 2);
  assert.equal((await ranked.first().locator('td').first().textContent()).trim(), '1');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390 + 1, `no sideways scrolling of the page: ${width}`);
  await page.screenshot({ path: `${SHOTS}/cong-khai-dien-thoai.png`, fullPage: true });
  await ctx.close();
});

test('the service index drills down, an agency enters its own shares, the operator re-weights it', async () => {
  const { ctx, page } = await loggedIn('vanhanh');
  await page.goto('/dieu-hanh?from=2025-01-01&to=2026-12-31');
  await Promise.all([page.waitForURL('**/dieu-hanh/chi-so?**'), page.click('[data-testid=index-link]')]);
  const scaled = (await page.textContent('[data-testid=index-scaled]')).trim();
  assert.match(scaled, /^\d+(,\d+)?$/, `the country has a score: ${scaled}`);
  assert.equal(await page.locator('[data-testid=index-groups] tr.group').count(), 5);
  assert.equal(await page.locator('[data-testid=index-history] svg').count(), 1);
  const provinces = page.locator('[data-testid=index-children] tbody tr', { has: page.locator('a') });
  assert.ok(await provinces.count() > 1, 'the provinces are ranked');
  await page.screenshot({ path: `${SHOTS}/chi-so-toan-quoc.png`, fullPage: true });
  const code = await provinces.first().getAttribute('data-code');
  await Promise.all([page.waitForURL(`**province=${code}**`), provinces.first().locator('a').click()]);
  assert.equal(await page.locator('[data-testid=crumbs] a').count(), 2);
  assert.ok(await page.locator('[data-testid=index-children] tbody tr').count() >= 1, 'its agencies are ranked');

  // The operator puts 2.1 at 30 points from today: a new version, listed.
  await page.goto('/dieu-hanh/chi-so/bo-chi-so');
  assert.equal(await page.locator('[data-testid=versions] tbody tr').count(), 1);
  await page.fill('input[name="p.2.1"]', 'ba mươi');
  await page.click('[data-testid=edit] button[type=submit]');
  assert.match(await page.textContent('[data-testid=errors]'), /2\.1/);
  await page.fill('input[name="p.2.1"]', '30');
  await page.fill('#note', 'Tăng trọng số giải quyết đúng hạn');
  await page.click('[data-testid=edit] button[type=submit]');
  assert.match(await page.textContent('[data-testid=made]'), /2/);
  assert.equal(await page.locator('[data-testid=versions] tbody tr').count(), 2);
  await ctx.close();

  // The agency's leader lands on the agency's index and enters what it reports itself.
  const leader = await loggedIn('lanhdao');
  await leader.page.goto('/dieu-hanh/chi-so');
  assert.match(await leader.page.textContent('[data-testid=index-version]'), /2/);
  await Promise.all([leader.page.waitForURL('**/dieu-hanh/chi-so/nhap?**'), leader.page.click('[data-testid=enter-link]')]);
  await leader.page.fill('input[name="v.1.1"]', '120');
  await leader.page.click('[data-testid=inputs] button[type=submit]');
  assert.match(await leader.page.textContent('[data-testid=errors]'), /0 đến 100/);
  await leader.page.fill('input[name="v.1.1"]', '95,5');
  await leader.page.click('[data-testid=inputs] button[type=submit]');
  await leader.page.waitForSelector('[data-testid=saved]');
  assert.equal(await leader.page.inputValue('input[name="v.1.1"]'), '95,5');
  await leader.page.click('text=Xem chỉ số của cơ quan');
  const row = leader.page.locator('[data-testid=index-groups] tr[data-code="1.1"]');
  assert.match(await row.textContent(), /95,5%/);
  await leader.page.screenshot({ path: `${SHOTS}/chi-so-co-quan.png`, fullPage: true });
  await leader.ctx.close();
});
