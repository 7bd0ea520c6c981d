// The document exchange hub in a real browser: the clerk of Hà Nội's People's Committee
// composes, signs and sends a document to the service centre; the centre's clerk opens it,
// accepts it into the register of documents received and completes it; the sender sees each
// status and the register of documents sent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, loggedIn as logInAs, startServer, stopServer, SHOTS } from './harness.mjs';

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

const loggedIn = (login) => logInAs(browser, server.origin, login);

// A one-page PDF.
function pdf(text) {
  const stream = `BT /F1 14 Tf 56 780 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
  ];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

test('a document goes from one clerk to another and every status comes back', async () => {
  // The sender composes and signs.
  const ubnd = await loggedIn('vanthu.ubnd');
  const page = ubnd.page;
  await Promise.all([page.waitForURL('**/van-ban'), page.click('[data-testid=documents]')]);
  await Promise.all([page.waitForURL('**/van-ban/soan?**'), page.click('[data-testid=compose]')]);
  await page.check('input[name=to][value="000.00.02.H26"]');
  await page.selectOption('#document_type', 'Công văn');
  await page.fill('#code_number', '15');
  await page.fill('#code_notation', 'UBND-KSTTHC');
  await page.fill('#subject', 'Về việc rà soát quy trình nội bộ giải quyết thủ tục hành chính');
  await page.fill('#content', 'Đề nghị Trung tâm rà soát và báo cáo trước ngày 20.');
  await page.fill('#place', 'Hà Nội');
  await page.fill('#signer_position', 'Phó Chủ tịch');
  await page.fill('#signer_name', 'Nguyễn Văn An');
  await page.selectOption('#priority', '1');
  // Not a PDF: refused, what was typed stays.
  await page.setInputFiles('#file', { name: 'cong-van.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ not a pdf') });
  await page.click('[data-testid=compose-form] button[type=submit]');
  assert.match(await page.textContent('[data-testid=errors]'), /PDF/);
  assert.equal(await page.inputValue('#subject'), 'Về việc rà soát quy trình nội bộ giải quyết thủ tục hành chính');
  await page.setInputFiles('#file', { name: 'cong-van-15.pdf', mimeType: 'application/pdf', buffer: pdf('Cong van so 15') });
  await Promise.all([page.waitForURL('**/van-ban/*?gui=1'), page.click('[data-testid=compose-form] button[type=submit]')]);
  await page.waitForSelector('[data-testid=sent]');
  const url = page.url().replace(/\?.*$/, '');
  const row = () => page.locator('[data-testid=deliveries] tr[data-recipient="000.00.02.H26"]');
  assert.match(await row().locator('[data-testid=status]').textContent(), /Đã gửi, chờ nơi nhận/);
  await page.screenshot({ path: `${SHOTS}/van-ban-gui.png`, fullPage: true });

  // The recipient's clerk finds it waiting, opens it and accepts it into the register.
  const centre = await loggedIn('vanthu');
  const p2 = centre.page;
  await Promise.all([p2.waitForURL('**/van-ban'), p2.click('[data-testid=documents]')]);
  const waiting = p2.locator('[data-testid=inbox] tr', { hasText: 'rà soát quy trình nội bộ' });
  assert.equal(await waiting.count(), 1);
  assert.match(await waiting.textContent(), /mới/);
  await Promise.all([p2.waitForURL('**/van-ban/*'), waiting.locator('a').click()]);
  assert.match(await p2.textContent('[data-testid=attachments]'), /cong-van-15\.pdf/);
  await p2.check('[data-testid=answer-form] input[name=code][value="03"]');
  await p2.fill('[data-testid=answer-form] input[name=department]', 'Phòng Kiểm soát thủ tục hành chính');
  await Promise.all([p2.waitForURL('**/van-ban/*?tl=1'), p2.click('[data-testid=answer-form] button[type=submit]')]);
  const mine = p2.locator('[data-testid=deliveries] tr[data-recipient="000.00.02.H26"]');
  assert.match(await mine.locator('[data-testid=status]').textContent(), /Đã tiếp nhận/);
  assert.match(await mine.textContent(), /Số đến 1/);
  await p2.check('[data-testid=answer-form] input[name=code][value="06"]');
  await p2.fill('[data-testid=answer-form] textarea[name=description]', 'Đã rà soát, gửi báo cáo kèm theo.');
  await Promise.all([p2.waitForURL('**/van-ban/*?tl=1'), p2.click('[data-testid=answer-form] button[type=submit]')]);
  assert.match(await mine.locator('[data-testid=status]').textContent(), /Hoàn thành/);
  assert.equal(await p2.locator('[data-testid=answer-form]').count(), 0, 'nothing follows completion');
  await p2.goto('/van-ban?tab=so-den');
  assert.match(await p2.textContent('[data-testid=register]'), /rà soát quy trình nội bộ/);
  await p2.screenshot({ path: `${SHOTS}/van-ban-so-den.png`, fullPage: true });
  await centre.ctx.close();

  // The sender sees every status and the register of documents sent.
  await page.goto(url);
  assert.match(await row().locator('[data-testid=status]').textContent(), /Hoàn thành/);
  const history = await row().textContent();
  assert.match(history, /03 Đã tiếp nhận/);
  assert.match(history, /06 Hoàn thành.*Đã rà soát/);
  await page.goto('/van-ban?tab=so-di');
  const out = page.locator('[data-testid=register] tr', { hasText: 'rà soát quy trình nội bộ' });
  assert.match(await out.textContent(), /1\/1 hoàn thành/);

  // The sender recalls it; the recipient refuses, since it was already handled.
  await page.goto(url);
  await page.click('[data-testid=recall]');
  await page.fill('#reason', 'Ban hành nhầm số ký hiệu');
  await Promise.all([page.waitForURL('**/van-ban/*?gui=1'), page.click('[data-testid=recall-form] button[type=submit]')]);
  assert.match(await page.textContent('[data-testid=refers-to]'), /Thu hồi/);
  const recallUrl = page.url().replace(/\?.*$/, '');
  const centre2 = await loggedIn('vanthu');
  await centre2.page.goto(recallUrl);
  await centre2.page.check('[data-testid=answer-form] input[name=code][value="16"]');
  await centre2.page.fill('[data-testid=answer-form] textarea[name=description]', 'Văn bản đã xử lý xong.');
  await Promise.all([centre2.page.waitForURL('**/van-ban/*?tl=1'), centre2.page.click('[data-testid=answer-form] button[type=submit]')]);
  assert.equal(await centre2.page.locator('[data-testid=answer-form]').count(), 0, 'a recall is answered once');
  await centre2.ctx.close();
  await page.goto(recallUrl);
  assert.match(await row().textContent(), /16 Từ chối thu hồi/);
  await page.goto(url);
  assert.match(await page.textContent('[data-testid=followed-by]'), /đã bị thu hồi/);
  assert.equal(await page.locator('[data-testid=recall-form]').count(), 0, 'recalled once');
  await ubnd.ctx.close();
});
