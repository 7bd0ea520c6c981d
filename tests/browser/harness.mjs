// Shared by the browser tests: starts a demo node of the real binary on a fresh data folder and
// a free loopback port, and launches Debian's Chromium with the flags a closed network needs.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.MOTCUA_BIN
  ? path.resolve(process.env.MOTCUA_BIN)
  : path.resolve(here, '../../target/debug/motcua');
export const SHOTS = path.join(here, 'screenshots');
const READY_TIMEOUT_MS = 60_000;

export const PHONE = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};


// ---------------------------------------------------------------- server

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `history`: past dossiers generated into the demo (none unless a test looks at dashboards);
// `host`: the loopback address to listen on (another one keeps a second node's cookies apart:
// browsers do not tell ports apart for cookies); `env`: more settings (MOTCUA_*).
export async function startServer({ history = 0, host = '127.0.0.1', env: extra = {} } = {}) {
  assert.ok(fs.existsSync(BIN), `motcua binary not found at ${BIN} (set MOTCUA_BIN)`);
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'motcua-browser-'));
  const port = await freePort();
  const origin = `http://${host}:${port}`;

  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 20_000) output = output.slice(-20_000);
  };
  // MOTCUA_BIN is the harness's own setting: passed on, the server would read it as a key of
  // its configuration (every MOTCUA_* variable is one) and refuse to start.
  const { MOTCUA_BIN: _bin, ...env } = process.env;
  const proc = spawn(BIN, ['--data', dataDir, 'serve', '--demo', '--listen', `${host}:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, NO_COLOR: '1', MOTCUA_PUBLIC_URL: origin, MOTCUA_DEMO_HISTORY: String(history), ...extra },
  });
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });
  const spawnError = new Promise((_, reject) => proc.on('error', reject));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  const waitReady = (async () => {
    for (;;) {
      if (exited) {
        throw new Error(`motcua exited before it was ready (${JSON.stringify(exited)}):\n${output}`);
      }
      try {
        const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) {
          const body = await res.json();
          if (body.status === 'ok') return;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`motcua not healthy within ${READY_TIMEOUT_MS / 1000} s:\n${output}`);
      }
      await sleep(200);
    }
  })();
  try {
    await Promise.race([waitReady, spawnError]);
  } catch (err) {
    proc.kill('SIGKILL');
    await fsp.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return { proc, origin, dataDir, log: () => output, exited: () => exited };
}

export async function stopServer(s) {
  if (!s) return;
  if (!s.exited()) {
    const gone = new Promise((r) => s.proc.once('exit', r));
    s.proc.kill('SIGTERM');
    const t = setTimeout(() => s.proc.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(t);
  }
  await fsp.rm(s.dataDir, { recursive: true, force: true });
}


// A browser context logged in as `login` with the demo password, on its account page.
export async function loggedIn(browser, origin, login, options = {}) {
  const ctx = await browser.newContext({ baseURL: origin, ...options });
  const page = await ctx.newPage();
  await page.goto('/dang-nhap');
  await page.fill('#login', login);
  await page.fill('#password', 'thu-nghiem-motcua-2026');
  await Promise.all([page.waitForURL('**/tai-khoan'), page.click('button[type=submit]')]);
  return { ctx, page };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}


// ---------------------------------------------------------------- two-factor codes

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of s.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(ch);
    assert.ok(v >= 0, `not base32: ${ch}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The code an authenticator app shows (RFC 6238: HMAC-SHA-1, 6 digits, 30 s). */
export function totp(secret, unixSeconds = Math.floor(Date.now() / 1000)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}
