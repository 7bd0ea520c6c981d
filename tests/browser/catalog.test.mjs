// Real-browser tests of the public catalogue pages.
//
// Starts its own demo node (fresh data dir, free loopback port) and drives
// Debian's Chromium through playwright-core, which ships and downloads no
// browser. Run with `scripts/browser-test`, or `npm test` here.
//
// Environment:
//   MOTCUA_BIN  server binary (default ../../target/debug/motcua from this file)
//   CHROMIUM    browser (default /usr/bin/chromium)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PHONE, SHOTS, launchBrowser, startServer, stopServer } from './harness.mjs';

let server; // { proc, origin, dataDir, log() }
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await fsp.mkdir(SHOTS, { recursive: true });
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await stopServer(server);
  }
});

// ---------------------------------------------------------------- helpers

const url = (p) => new URL(p, server.origin).href;

/**
 * A fresh context and page whose console errors, page errors, failed
 * requests, HTTP errors and every requested URL are recorded.
 * `allowHttpError(u, status)` may excuse an expected error response.
 */
async function openPage(options = {}, { allowHttpError = () => false } = {}) {
  const context = await browser.newContext({ baseURL: server.origin, ...options });
  const page = await context.newPage();
  const seen = { console: [], pageErrors: [], failed: [], httpErrors: [], requests: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.console.push(`${msg.text()} @ ${msg.location().url}`);
  });
  page.on('pageerror', (err) => seen.pageErrors.push(String(err)));
  page.on('request', (req) => seen.requests.push(req.url()));
  page.on('requestfailed', (req) => seen.failed.push(`${req.url()}: ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400 && !allowHttpError(res.url(), res.status())) {
      seen.httpErrors.push(`${res.status()} ${res.url()}`);
    }
  });
  return { context, page, seen };
}

function assertClean(seen, { allowConsole = () => false } = {}) {
  const consoleErrors = seen.console.filter((m) => !allowConsole(m));
  assert.deepEqual(consoleErrors, [], 'console errors');
  assert.deepEqual(seen.pageErrors, [], 'uncaught page errors');
  assert.deepEqual(seen.failed, [], 'failed requests');
  assert.deepEqual(seen.httpErrors, [], 'HTTP error responses');
  assert.ok(seen.requests.length > 0, 'no request was recorded');
  const foreign = seen.requests.filter((u) => !u.startsWith(`${server.origin}/`));
  assert.deepEqual(foreign, [], `requests outside ${server.origin}`);
}

/** Navigates to `p`, failing on anything but a 200 HTML page. */
async function visit(page, p) {
  const res = await page.goto(p);
  assert.ok(res, `no response for ${p}`);
  assert.equal(res.status(), 200, `status of ${p}`);
  return res;
}

const text = async (locator) => ((await locator.textContent()) ?? '').trim();

async function total(page) {
  const raw = await text(page.locator('[data-testid=total]'));
  const n = Number(raw.replace(/\D/g, ''));
  assert.ok(raw !== '' && Number.isInteger(n), `result total is not a number: ${JSON.stringify(raw)}`);
  return n;
}

/** Horizontal overflow of the document, with the elements that cause it. */
function measureOverflow(page) {
  return page.evaluate(() => {
    const vw = window.innerWidth;
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const ox = getComputedStyle(a).overflowX;
        if (ox !== 'visible') return true;
      }
      return false;
    };
    const culprits = [];
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 1 && !clipped(el)) {
        const id = el.id ? `#${el.id}` : '';
        const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
        culprits.push(`${el.tagName.toLowerCase()}${id}${cls} right=${Math.round(r.right)}`);
        if (culprits.length >= 8) break;
      }
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: vw,
      culprits,
    };
  });
}

async function assertNoHorizontalOverflow(page, what) {
  const m = await measureOverflow(page);
  assert.ok(
    m.scrollWidth <= m.innerWidth + 1,
    `${what}: horizontal overflow, scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth}; ` +
      `sticking out: ${m.culprits.join(', ') || '(none found)'}`,
  );
}

/** Every visible form control without an accessible label. */
function unlabelledControls(page) {
  return page.evaluate(() => {
    const visible = (el) => {
      const s = getComputedStyle(el);
      return el.getClientRects().length > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    };
    const controls = [...document.querySelectorAll('input, select, textarea')].filter(
      (el) => el.type !== 'hidden' && visible(el),
    );
    const missing = [];
    for (const el of controls) {
      const fromLabels = [...(el.labels ?? [])].map((l) => l.textContent.trim()).join(' ');
      const aria = (el.getAttribute('aria-label') ?? '').trim();
      const by = (el.getAttribute('aria-labelledby') ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((id) => document.getElementById(id)?.textContent.trim() ?? '')
        .join(' ');
      if (!(fromLabels || aria || by.trim())) {
        missing.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}[name=${el.name}]`);
      }
    }
    return { count: controls.length, missing };
  });
}

// ---------------------------------------------------------------- tests

test('home page renders the search portal, with no errors and nothing fetched from elsewhere', async () => {
  const { context, page, seen } = await openPage();
  try {
    await visit(page, '/');
    await page.waitForLoadState('load');

    assert.match(await page.title(), /Tra cứu thủ tục hành chính/);
    assert.equal(await text(page.locator('h1')), 'Tra cứu thủ tục hành chính');
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');

    const search = page.locator('form[role=search]');
    assert.equal(await search.count(), 1, 'one search form');
    assert.equal(await search.locator('input#q[name=q]').count(), 1, 'search input #q');
    assert.equal(await text(search.locator('button[type=submit]')), 'Tìm kiếm');

    const count = Number(await text(page.locator('[data-testid=procedure-count]')));
    assert.ok(count > 40, `procedure count ${count} should be > 40`);

    // The stylesheet was fetched (an error status would show in assertClean).
    const cssRequested = seen.requests.some((u) => new URL(u).pathname.endsWith('.css'));
    assert.ok(cssRequested, 'the stylesheet was requested');

    const file = path.join(SHOTS, 'home.png');
    await page.screenshot({ path: file, fullPage: true });
    const { size } = await fsp.stat(file);
    assert.ok(size > 10 * 1024, `home screenshot is only ${size} bytes`);

    assertClean(seen);
  } finally {
    await context.close();
  }
});

test('a citizen searches without diacritics and opens "Đăng ký khai sinh"', async () => {
  const { context, page, seen } = await openPage();
  try {
    await visit(page, '/');
    await page.fill('#q', 'dang ky khai sinh');
    await Promise.all([page.waitForURL(/\/thu-tuc\?/), page.press('#q', 'Enter')]);
    assert.equal(new URL(page.url()).searchParams.get('q'), 'dang ky khai sinh');
    assert.equal(await page.inputValue('#q'), 'dang ky khai sinh', 'the query stays in the box');
    assert.ok((await total(page)) >= 1, 'at least one result');

    const first = page.locator('ol.results li.card h2 a').first();
    assert.equal(await text(first), 'Đăng ký khai sinh');

    await Promise.all([page.waitForURL(/\/thu-tuc\/[^/?]+$/), first.click()]);
    assert.equal(new URL(page.url()).pathname, '/thu-tuc/1.001193');
    assert.equal(await text(page.locator('h1')), 'Đăng ký khai sinh');
    assert.match(await page.title(), /Đăng ký khai sinh/);

    const documents = page.locator('h2:text-is("Thành phần hồ sơ") + .table-scroll table');
    assert.equal(await documents.count(), 1, 'a documents table under "Thành phần hồ sơ"');
    const rows = documents.locator('tbody tr');
    assert.ok((await rows.count()) >= 1, 'the documents table has at least one row');
    assert.notEqual(await text(rows.first().locator('td').first()), '', 'first document is named');

    assertClean(seen);
  } finally {
    await context.close();
  }
});

test('on a phone, home, results and procedure pages do not scroll sideways', async () => {
  const { context, page, seen } = await openPage(PHONE);
  try {
    await visit(page, '/');
    // The page's viewport meta makes the layout as wide as the phone.
    assert.equal(await page.evaluate(() => window.innerWidth), 390, 'layout viewport width');
    await assertNoHorizontalOverflow(page, 'home');

    await visit(page, '/thu-tuc?q=dang ky khai sinh');
    assert.ok((await total(page)) >= 1, 'results on the phone');
    await assertNoHorizontalOverflow(page, 'results');
    const file = path.join(SHOTS, 'phone-results.png');
    await page.screenshot({ path: file, fullPage: true });
    const { size } = await fsp.stat(file);
    assert.ok(size > 10 * 1024, `phone screenshot is only ${size} bytes`);

    await visit(page, '/thu-tuc/1.001193');
    assert.equal(await text(page.locator('h1')), 'Đăng ký khai sinh');
    await assertNoHorizontalOverflow(page, 'procedure 1.001193');

    await visit(page, '/co-quan');
    await assertNoHorizontalOverflow(page, 'agency directory');

    assertClean(seen);
  } finally {
    await context.close();
  }
});

test('the language switch gives English, survives a reload, and switches back', async () => {
  const { context, page, seen } = await openPage();
  try {
    await visit(page, '/');
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');

    const toEnglish = page.locator('a.lang');
    assert.equal(await toEnglish.getAttribute('hreflang'), 'en');
    await Promise.all([page.waitForURL((u) => u.pathname === '/'), toEnglish.click()]);
    assert.equal(await text(page.locator('h1')), 'Find an administrative procedure');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(new URL(page.url()).pathname, '/', 'redirected back to the page it came from');

    await page.reload();
    assert.equal(await text(page.locator('h1')), 'Find an administrative procedure', 'English after reload');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    const cookies = await context.cookies(server.origin);
    assert.equal(cookies.find((c) => c.name === 'lang')?.value, 'en', 'lang cookie');

    const toVietnamese = page.locator('a.lang');
    assert.equal(await toVietnamese.getAttribute('hreflang'), 'vi');
    await Promise.all([page.waitForURL((u) => u.pathname === '/'), toVietnamese.click()]);
    await page.waitForFunction(() => document.documentElement.lang === 'vi');
    assert.equal(await text(page.locator('h1')), 'Tra cứu thủ tục hành chính');
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');

    assertClean(seen);
  } finally {
    await context.close();
  }
});

test('keyboard: the first Tab reaches the skip link; every form control is labelled', async () => {
  const { context, page, seen } = await openPage();
  try {
    await visit(page, '/');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      const r = el.getBoundingClientRect();
      return {
        tag: el.tagName,
        text: el.textContent.trim(),
        href: el.getAttribute('href'),
        onScreen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth,
      };
    });
    assert.equal(focused.tag, 'A', 'a link has focus');
    assert.equal(focused.text, 'Bỏ qua, đến nội dung chính');
    assert.ok(focused.onScreen, 'the focused skip link is visible on screen');

    // Following it moves focus to the main content.
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'main');

    for (const p of ['/', '/thu-tuc?q=ho chieu', '/co-quan']) {
      await visit(page, p);
      const { count, missing } = await unlabelledControls(page);
      assert.ok(count >= 1, `${p}: expected form controls, found none`);
      assert.deepEqual(missing, [], `${p}: controls without a label`);
    }
    // The agency directory has its name box and both filters.
    assert.equal(await page.locator('select#ap[name=province]').count(), 1);

    assertClean(seen);
  } finally {
    await context.close();
  }
});

test('facets: choosing a province narrows the results and marks the choice', async () => {
  const { context, page, seen } = await openPage();
  try {
    await visit(page, '/thu-tuc?q=giay phep lai xe');
    const before = await total(page);
    assert.ok(before >= 1, 'results before filtering');

    const link = page.locator('aside.facets a[href*="province="]').first();
    assert.equal(await link.count(), 1, 'a province facet link');
    const name = await text(link.locator('span').first());
    const facetCount = Number(await text(link.locator('.count')));
    const province = new URL(await link.getAttribute('href'), server.origin).searchParams.get('province');
    assert.ok(province, 'facet link carries a province code');
    assert.notEqual(await link.getAttribute('aria-current'), 'true', 'not chosen yet');

    await Promise.all([
      page.waitForURL((u) => u.searchParams.get('province') === province),
      link.click(),
    ]);
    const after = await total(page);
    assert.ok(after <= before, `total after (${after}) should be <= total before (${before})`);
    assert.equal(after, facetCount, 'total equals the count the facet link announced');
    assert.equal(new URL(page.url()).searchParams.get('q'), 'giay phep lai xe', 'query kept');

    const chosen = page.locator('aside.facets a[aria-current="true"]');
    assert.equal(await chosen.count(), 1, 'exactly one facet link is marked current');
    assert.ok((await text(chosen)).includes(name), `the current facet is ${name}`);

    assertClean(seen);
  } finally {
    await context.close();
  }
});

test('a missing procedure answers 404 with a readable message', async () => {
  const { context, page, seen } = await openPage({}, {
    allowHttpError: (u, status) => status === 404 && new URL(u).pathname === '/thu-tuc/0.000000',
  });
  try {
    const res = await page.goto('/thu-tuc/0.000000');
    assert.equal(res.status(), 404);
    const body = await page.locator('body').innerText();
    assert.ok(
      body.includes('Không tìm thấy') || body.includes('Không có thủ tục'),
      `404 page text: ${body.slice(0, 300)}`,
    );
    assert.equal(await page.locator('a[href="/"]').first().count(), 1, 'a way back home');
    assertClean(seen, {
      allowConsole: (m) => m.includes('404') && m.includes('/thu-tuc/0.000000'),
    });
  } finally {
    await context.close();
  }
});
