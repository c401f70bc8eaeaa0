import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bundleForBrowser, launchChromium, servePages } from '../../../test-support/chromium.ts';
import type { PageApi, scenarios } from './page.ts';

// The adapters in real headless Chromium (Debian's /usr/bin/chromium through Playwright): the
// page is served from loopback and runs on the browser's own streams, timers and Response.
let browser: Browser;
let page: Page;
let close: () => Promise<void>;

beforeAll(async () => {
  const script = await bundleForBrowser(new URL('./page.ts', import.meta.url).href);
  const server = await servePages({
    '/': [
      'text/html',
      '<!doctype html><meta charset="utf-8"><title>sluice web-streams</title><script type="module" src="/page.js"></script>',
    ],
    '/page.js': ['text/javascript', script],
  });
  close = server.close;
  browser = await launchChromium();
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(server.url);
  await page.waitForFunction(() => 'sluice' in globalThis);
  expect(errors).toEqual([]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await close?.();
});

function run<R>(name: keyof typeof scenarios): Promise<R> {
  return page.evaluate((n) => (globalThis as unknown as { sluice: PageApi }).sluice.run(n), name) as Promise<R>;
}

describe('web-streams in headless Chromium', () => {
  it('is a real Chromium page', async () => {
    const userAgent = await page.evaluate(() => (globalThis as unknown as { sluice: PageApi }).sluice.userAgent);
    expect(userAgent).toMatch(/HeadlessChrome\/\d+/);
  });

  it('throttle keeps order and paces by the bucket', async () => {
    const { out, elapsedMs } = await run<{ out: number[]; elapsedMs: number }>('paced');
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // 5 at once, then 15 at 200/s: at least 75 ms on the page's clock
    expect(elapsedMs).toBeGreaterThanOrEqual(70);
  });

  it('batch pays many chunks from one grant', async () => {
    expect(await run('batched')).toEqual({ inOrder: true, grants: 10 });
  });

  it('backpressure reaches the source', async () => {
    const { first, ahead } = await run<{ first: number; ahead: number }>('backpressure');
    expect(first).toBe(0);
    expect(ahead).toBeLessThanOrEqual(4);
  });

  it('cancel withdraws the gate request and reaches the source', async () => {
    expect(await run('cancel')).toEqual({ waitingBefore: 1, waitingAfter: 0, sourceReason: 'tab closed', available: 1 });
  });

  it('abort errors both sides while a chunk waits on the gate', async () => {
    expect(await run('abort')).toEqual({ read: 'upstream failed', written: 'upstream failed', waiting: 0 });
  });

  it('a dropping buffer reports its drops: in = out + dropped', async () => {
    const { total, out, dropped, counted, last } = await run<{
      total: number;
      out: number[];
      dropped: number;
      counted: number;
      last: number;
    }>('dropping');
    expect(out.length + dropped).toBe(total);
    expect(counted).toBe(dropped);
    expect(dropped).toBeGreaterThan(0);
    expect(last).toBe(total - 1);
    expect([...out].sort((a, b) => a - b)).toEqual(out);
  });

  it('a bounded buffer loses nothing; conflate merges; sseStream frames', async () => {
    expect(await run('bounded')).toEqual({ same: true });
    const { out } = await run<{ out: number[] }>('conflated');
    expect(out.reduce((a, b) => a + b, 0)).toBe(55);
    const { text } = await run<{ text: string }>('sse');
    expect(text).toBe('data: {"token":"a"}\n\ndata: {"token":"b"}\n\ndata: {"token":"c"}\n\n');
  });
});
