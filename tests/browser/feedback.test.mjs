// Field reports in a real browser, on a phone: a citizen reports a pothole with a photo and
// the place; a fake photo is refused first and what was typed stays. The ward's official
// finds it in the queue, takes it up and answers; the citizen sees the answer, and anyone
// sees it on the public page, without the citizen's name.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, loggedIn as logInAs, startServer, stopServer, SHOTS, PHONE } from './harness.mjs';

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

const loggedIn = (login, options) => logInAs(browser, server.origin, login, options);

// A real JPEG, drawn by the browser.
async function jpeg(page) {
  const b64 = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 320;
    c.height = 240;
    const g = c.getContext('2d');
    g.fillStyle = '#777';
    g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#222';
    g.beginPath();
    g.ellipse(160, 130, 70, 35, 0, 0, Math.PI * 2);
    g.fill();
    return c.toDataURL('image/jpeg', 0.9).split(',')[1];
  });
  return Buffer.from(b64, 'base64');
}

test('a citizen reports a pothole with a photo, the ward answers, the citizen sees it', async () => {
  const citizen = await loggedIn('001095012345', PHONE);
  const page = citizen.page;
  await page.goto('/phan-anh');
  await Promise.all([page.waitForURL('**/phan-anh/gui'), page.click('[data-testid=file-report]')]);
  await Promise.all([page.waitForURL('**/phan-anh/gui?loai=HT01'), page.click('a[href="/phan-anh/gui?loai=HT01"]')]);
  await page.fill('#title', 'Ổ gà trước cổng trường');
  await page.fill('#description', 'Ổ gà rộng khoảng nửa mét trước cổng trường, học sinh đi xe đạp rất dễ ngã.');
  await page.selectOption('#a-muc_do', 'nang');
  await page.fill('#lat', '21.0335');
  await page.fill('#lon', '105.8450');
  await page.fill('#address', 'Phố Hàng Bông, phường Hoàn Kiếm');
  // A text file named like a photo: refused, what was typed stays.
  await page.setInputFiles('#photos', { name: 'o-ga.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a photo at all') });
  await page.click('[data-testid=send]');
  await page.waitForSelector('[data-testid=errors]');
  assert.match(await page.textContent('[data-testid=errors]'), /Ảnh 1/);
  assert.equal(await page.inputValue('#lat'), '21.0335');
  assert.match(await page.inputValue('#description'), /nửa mét/);
  // Coordinates out of range: refused.
  await page.fill('#lat', '95');
  await page.setInputFiles('#photos', { name: 'o-ga.jpg', mimeType: 'image/jpeg', buffer: await jpeg(page) });
  await page.click('[data-testid=send]');
  await page.waitForSelector('[data-testid=errors]');
  assert.match(await page.textContent('[data-testid=errors]'), /Tọa độ ngoài phạm vi/);
  // The real photo.
  await page.fill('#lat', '21.0335');
  await page.setInputFiles('#photos', { name: 'o-ga.jpg', mimeType: 'image/jpeg', buffer: await jpeg(page) });
  await Promise.all([page.waitForURL('**/phan-anh/PA-*?moi=1'), page.click('[data-testid=send]')]);
  await page.waitForSelector('[data-testid=filed]');
  const id = page.url().match(/PA-\d{4}-\d{6}/)[0];
  assert.match(await page.textContent('[data-testid=status]'), /Đã tiếp nhận/);
  assert.match(await page.textContent('[data-testid=agency]'), /phường Hoàn Kiếm/);
  const shown = await page.locator('[data-testid=photos] img').evaluate((img) => img.complete && img.naturalWidth);
  assert.ok(shown > 0, 'the photo is shown');
  await page.screenshot({ path: `${SHOTS}/phan-anh-gui.png`, fullPage: true });

  // The ward's official: the queue, take it up, answer.
  const official = await loggedIn('phuong.hoankiem');
  const op = official.page;
  await op.goto('/xu-ly-phan-anh');
  await Promise.all([op.waitForURL(`**/xu-ly-phan-anh/${id}`), op.click(`[data-testid=queue] tr[data-id="${id}"] a`)]);
  assert.match(await op.textContent('[data-testid=reporter]'), /Nguyễn Văn An/);
  await Promise.all([op.waitForURL(`**/xu-ly-phan-anh/${id}`), op.click('[data-testid=start]')]);
  assert.match(await op.textContent('[data-testid=status]'), /Đang xử lý/);
  await op.fill('#answer', 'Đội duy tu đã vá ổ gà trước cổng trường sáng nay. Cảm ơn bạn.');
  await Promise.all([op.waitForURL(`**/xu-ly-phan-anh/${id}`), op.click('[data-testid=send-answer]')]);
  assert.match(await op.textContent('[data-testid=status]'), /Đã trả lời/);
  await op.screenshot({ path: `${SHOTS}/phan-anh-xu-ly.png`, fullPage: true });

  // The citizen sees the answer and may reopen.
  await page.goto(`/phan-anh/${id}`);
  assert.match(await page.textContent('[data-testid=status]'), /Đã trả lời/);
  assert.match(await page.textContent('[data-testid=answer]'), /đã vá ổ gà/);
  assert.equal(await page.locator('[data-testid=reopen-form]').count(), 1);
  await page.screenshot({ path: `${SHOTS}/phan-anh-tra-loi.png`, fullPage: true });

  // Anyone: the answer, not the citizen's name; the answers search finds it without marks.
  const anon = await browser.newContext({ baseURL: server.origin });
  const ap = await anon.newPage();
  await ap.goto(`/phan-anh/${id}`);
  assert.match(await ap.textContent('[data-testid=answer]'), /đã vá ổ gà/);
  assert.doesNotMatch(await ap.content(), /Nguyễn Văn An/);
  await ap.goto('/phan-anh/tra-loi?q=va%20o%20ga%20truoc%20cong%20truong');
  assert.match(await ap.textContent('[data-testid=answers]'), new RegExp(id));
  await anon.close();
  await official.ctx.close();
  await citizen.ctx.close();
});
