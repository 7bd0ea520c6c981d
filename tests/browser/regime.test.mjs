// The periodic reporting regime in a real browser: the service centre's leader makes the
// month's report from the one-stop figures (a bad value is refused first), and the national
// operator returns it, then approves last month's and sees the figures added up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, loggedIn as logInAs, startServer, stopServer, SHOTS } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ history: 2000 });
  browser = await launchBrowser();
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await stopServer(server);
  }
});

const loggedIn = (login) => logInAs(browser, server.origin, login);

test('a leader makes the periodic report and the level above returns and approves', async () => {
  const leader = await loggedIn('lanhdao');
  const page = leader.page;
  await Promise.all([page.waitForURL('**/bao-cao'), page.click('[data-testid=periodic-reports]')]);
  const row = page.locator('[data-testid=to-make] tr[data-template="BC-TTHC-01"]');
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), /Chưa nộp/);
  await Promise.all([page.waitForURL('**/bao-cao/lap?**'), row.locator('a').click()]);
  await page.waitForSelector('[data-testid=prefilled]');
  const period = (await page.textContent('[data-testid=period]')).trim();
  const received = await page.inputValue('#v-received');
  assert.match(received, /^\d+$/, `started from the one-stop figures: ${received}`);

  // A bad value is refused, what was typed stays.
  await page.fill('#v-received', 'mười hai');
  await page.fill('#v-notes', 'Tháng này tăng hồ sơ trực tuyến');
  await page.click('[data-testid=report-form] button[type=submit]');
  assert.match(await page.textContent('[data-testid=errors]'), /phải là số/);
  assert.equal(await page.inputValue('#v-notes'), 'Tháng này tăng hồ sơ trực tuyến');
  await page.fill('#v-received', '40');
  await page.fill('#v-received_online', '30');
  await page.fill('#v-resolved', '20');
  await page.fill('#v-on_time', '15');
  await page.fill('#v-late', '5');
  await page.click('[data-testid=report-form] button[type=submit]');
  await page.waitForSelector('[data-testid=saved]');
  assert.equal((await page.textContent('[data-testid=derived-on_time_share]')).trim(), '75');
  assert.equal((await page.textContent('[data-testid=derived-online_share]')).trim(), '75');
  assert.equal(await page.locator('[data-testid=versions] tbody tr').count(), 1);
  await page.screenshot({ path: `${SHOTS}/bao-cao-lap.png`, fullPage: true });
  await leader.ctx.close();

  // The national operator returns it with a reason...
  const op = await loggedIn('vanhanh');
  await op.page.goto('/bao-cao');
  await Promise.all([op.page.waitForURL('**/bao-cao/tong-hop?**'), op.page.click('[data-testid=overviews] a')]);
  assert.equal((await op.page.textContent('[data-testid=period]')).trim(), period);
  const mine = op.page.locator('[data-testid=agencies] tr[data-agency="000.00.02.H26"]');
  assert.match(await mine.textContent(), /Chờ duyệt/);
  await mine.locator('input[name=comment]').fill('Số quá hạn chưa khớp');
  await Promise.all([op.page.waitForURL('**/bao-cao/tong-hop?**'), mine.locator('[data-testid=return]').click()]);
  assert.match(await op.page.locator('[data-testid=agencies] tr[data-agency="000.00.02.H26"]').textContent(), /Bị trả lại/);

  // ...and approves one of last month's, sent by two other agencies from their figures,
  // which the consolidated figures then hold.
  await op.page.click('text=Kỳ trước');
  const waiting = op.page.locator('[data-testid=agencies] tr', { has: op.page.locator('[data-testid=approve]') });
  assert.equal(await waiting.count(), 2);
  assert.match(await waiting.first().textContent(), /Chờ duyệt/);
  await Promise.all([op.page.waitForURL('**/bao-cao/tong-hop?**'), waiting.first().locator('[data-testid=approve]').click()]);
  assert.equal((await op.page.textContent('[data-testid=approved]')).trim(), '1');
  const value = (await op.page.locator('[data-testid=values] tr[data-code=received] td').nth(2).textContent()).trim();
  assert.ok(Number(value.replace(/\./g, '')) > 0, `the approved report is added up: ${value}`);
  await op.page.screenshot({ path: `${SHOTS}/bao-cao-tong-hop.png`, fullPage: true });
  await op.ctx.close();
});
