// e-Cabinet in a real browser, on a phone: a vice-chair finds the open ballot waiting on her
// home page, answers "other" without writing it (refused, her choices stay), then votes; the
// vote is signed (revision 1), she changes it (revision 2), and the ballot no longer waits.
// A guest of the meeting does not see its confidential document, and asking for it by its
// address is refused.

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

// Submits the vote form; answers the POST's response once the page it led to is loaded.
async function submitVote(page) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/noi-cac/phieu/')),
    page.click('[data-testid=submit-vote]'),
  ]);
  await page.waitForLoadState('load');
  return resp;
}

test('a member votes on a ballot from her phone, is refused once, then changes her vote', async () => {
  const member = await loggedIn('phochutich.ubnd', PHONE);
  const page = member.page;
  await page.goto('/noi-cac');
  const waiting = page.locator('[data-testid=waiting-ballot]', { hasText: 'Quy chế phối hợp' });
  assert.equal(await waiting.count(), 1, 'the open ballot waits for her vote');
  const id = await waiting.getAttribute('data-id');
  assert.match(id, /^PL-/);
  // Nothing on the page is wider than the phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the home page fits the phone (${overflow}px too wide)`);
  await page.screenshot({ path: `${SHOTS}/noi-cac.png`, fullPage: true });

  await Promise.all([page.waitForURL(`**/noi-cac/phieu/${id}`), waiting.locator('[data-testid=open-ballot]').click()]);
  assert.match(await page.textContent('[data-testid=status]'), /Đang lấy ý kiến/);
  assert.equal(await page.locator('[data-testid=vote-form] fieldset').count(), 2, 'two questions');

  // "Other" without writing it: refused with 422, the choices and the remark stay.
  await page.check('[data-testid=choice-1-other]');
  await page.check('[data-testid=choice-2-agree]');
  await page.fill('[data-testid=opinion-2]', 'Đề nghị bổ sung lộ trình áp dụng.');
  const refused = await submitVote(page);
  assert.equal(refused.status(), 422);
  await page.waitForSelector('[data-testid=errors]');
  assert.match(await page.textContent('[data-testid=question-error-1]'), /Câu 1: hãy ghi ý kiến khác/);
  assert.ok(await page.isChecked('[data-testid=choice-1-other]'), 'the first choice is kept');
  assert.ok(await page.isChecked('[data-testid=choice-2-agree]'), 'the second choice is kept');
  assert.equal(await page.inputValue('[data-testid=opinion-2]'), 'Đề nghị bổ sung lộ trình áp dụng.');
  assert.equal(await page.locator('[data-testid=confirmation]').count(), 0, 'nothing was recorded');

  // Written: signed and recorded, revision 1.
  await page.fill('[data-testid=opinion-1]', 'Đề nghị làm rõ trách nhiệm của Trung tâm Phục vụ hành chính công.');
  const first = await submitVote(page);
  assert.equal(first.status(), 303);
  await page.waitForURL(`**/noi-cac/phieu/${id}?tb=da-ky`);
  const confirmation = await page.textContent('[data-testid=confirmation]');
  assert.match(confirmation, /Đã ký số và ghi nhận ý kiến \(lần 1\)/);
  assert.equal((await page.textContent('[data-testid=revision]')).trim(), '1');
  assert.ok((await page.textContent('[data-testid=serial]')).trim().length > 0, 'the certificate serial is shown');
  assert.match(await page.getAttribute('[data-testid=vote-document]', 'href'), new RegExp(`/api/v1/cabinet/ballots/${id}/votes/phochutich\\.ubnd/document$`));
  assert.match(await page.getAttribute('[data-testid=vote-signature]', 'href'), /\/votes\/phochutich\.ubnd\/signature$/);
  assert.equal(await page.getAttribute('[data-testid=authority]', 'href'), '/api/v1/cabinet/authority.pem');
  // The signed vote says what she chose.
  const signed = await page.request.get(await page.getAttribute('[data-testid=vote-document]', 'href'));
  assert.equal(signed.status(), 200);
  const doc = JSON.parse(await signed.text());
  assert.equal(doc.revision, 1);
  assert.equal(doc.answers[0].choice, 'other');
  assert.match(doc.answers[0].opinion, /Trung tâm Phục vụ hành chính công/);
  assert.equal(doc.answers[1].choice, 'agree');
  const signature = await page.request.get(await page.getAttribute('[data-testid=vote-signature]', 'href'));
  assert.equal(signature.status(), 200);
  assert.ok((await signature.body()).length > 100, 'a detached signature comes back');
  // The form holds her vote.
  assert.ok(await page.isChecked('[data-testid=choice-1-other]'));
  assert.match(await page.inputValue('[data-testid=opinion-1]'), /Trung tâm Phục vụ/);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wide <= 0, `the ballot page fits the phone (${wide}px too wide)`);
  await page.screenshot({ path: `${SHOTS}/noi-cac-phieu.png`, fullPage: true });

  // She changes her mind: revision 2.
  await page.check('[data-testid=choice-1-agree]');
  await page.fill('[data-testid=opinion-1]', '');
  await page.check('[data-testid=choice-2-disagree]');
  const second = await submitVote(page);
  assert.equal(second.status(), 303);
  await page.waitForSelector('[data-testid=confirmation]');
  assert.match(await page.textContent('[data-testid=confirmation]'), /Đã ký số và ghi nhận ý kiến \(lần 2\)/);
  assert.equal((await page.textContent('[data-testid=revision]')).trim(), '2');
  assert.equal((await page.textContent('[data-testid=my-answer-1]')).trim(), 'Đồng ý');
  assert.equal((await page.textContent('[data-testid=my-answer-2]')).trim(), 'Không đồng ý');

  // The ballot no longer waits for her; it is among the others, voted.
  await page.goto('/noi-cac');
  assert.equal(await page.locator(`[data-testid=waiting-ballot][data-id="${id}"]`).count(), 0);
  assert.equal(await page.locator('[data-testid=nothing-waiting]').count(), 1);
  assert.match(await page.textContent(`[data-testid=other-ballot][data-id="${id}"]`), /Đã cho ý kiến/);
  await member.ctx.close();
});

test('a guest of the meeting neither sees nor opens the confidential document', async () => {
  // The chair sees both documents of the meeting.
  const chair = await loggedIn('chutich.ubnd');
  const cp = chair.page;
  await cp.goto('/noi-cac');
  const meeting = cp.locator('[data-testid=meeting]', { hasText: 'Phiên họp thường kỳ' });
  assert.equal(await meeting.count(), 1, 'the chair is called to the meeting');
  const meetingId = await meeting.getAttribute('data-id');
  await cp.goto(`/noi-cac/hop/${meetingId}`);
  const secret = cp.locator('[data-testid=doc][data-access=confidential]');
  assert.equal(await secret.count(), 1, 'the chair sees the confidential document');
  const secretId = await secret.getAttribute('data-id');
  const open = cp.locator('[data-testid=doc][data-access=participants]');
  assert.equal(await open.count(), 1);
  const openId = await open.getAttribute('data-id');
  assert.match(await cp.textContent('[data-testid=my-role]'), /Chủ trì/);
  await chair.ctx.close();

  // The guest, on a phone: the meeting, the public document, not the confidential one.
  const guest = await loggedIn('lanhdao', PHONE);
  const gp = guest.page;
  await gp.goto('/noi-cac');
  assert.equal(await gp.locator(`[data-testid=meeting][data-id="${meetingId}"]`).count(), 1);
  await gp.goto(`/noi-cac/hop/${meetingId}`);
  assert.match(await gp.textContent('[data-testid=my-role]'), /Khách mời/);
  assert.equal(await gp.locator(`[data-testid=doc][data-id="${openId}"]`).count(), 1, 'the public document is listed');
  assert.equal(await gp.locator(`[data-testid=doc][data-id="${secretId}"]`).count(), 0, 'the confidential one is not');
  assert.equal(await gp.locator(`a[href="/noi-cac/tai-lieu/${secretId}"]`).count(), 0);
  assert.ok(!(await gp.content()).includes(secretId), 'its id appears nowhere on the page');
  await gp.screenshot({ path: `${SHOTS}/noi-cac-hop-khach-moi.png`, fullPage: true });

  // By its address: refused.
  const denied = await gp.request.get(`/noi-cac/tai-lieu/${secretId}`);
  assert.equal(denied.status(), 403);
  assert.match(await denied.text(), /chỉ dành cho thành viên/);
  // The public one opens.
  const allowed = await gp.request.get(`/noi-cac/tai-lieu/${openId}`);
  assert.equal(allowed.status(), 200);
  assert.equal(allowed.headers()['content-type'], 'application/pdf');
  assert.equal(allowed.headers()['cache-control'], 'private, no-store');
  await guest.ctx.close();
});
