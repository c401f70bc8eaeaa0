import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, servePages } from '../../../test-support/chromium.ts';
import { SETTINGS, type ExampleApi } from '../src/api.js';
import { STORY, tokenize } from '../src/model.js';

// The example as a user gets it: `vite build` of index.html (the @sluice packages resolved
// through the workspace to their built dist/), served from 127.0.0.1, driven in Debian's
// headless Chromium with real keystrokes and clicks.

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const outDir = join(exampleDir, '.cache', 'vite-test');
/**
 * The screenshot goes under .cache on every run; the one in the docs is replaced only when
 * SLUICE_UPDATE_SCREENSHOT=1 (so a test run never dirties the working tree).
 */
const screenshotPath =
  process.env.SLUICE_UPDATE_SCREENSHOT === '1'
    ? join(repoRoot, 'docs', 'images', 'browser-example.png')
    : join(repoRoot, 'examples', 'browser', '.cache', 'browser-example.png');

/** The packages the page bundles (its dependencies and theirs), by folder under packages/. */
const BUNDLED = ['core', 'buffer', 'rate-limit', 'web-streams'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Builds the bundled packages whose dist/ is missing (a fresh clone); a full `pnpm run build` does them all. */
function ensureBuiltPackages(): void {
  const missing = BUNDLED.filter((name) => !existsSync(join(repoRoot, 'packages', name, 'dist', 'index.js')));
  if (missing.length === 0) return;
  const filters = missing.flatMap((name) => ['--filter', `@sluice/${name}`]);
  const result = spawnSync('pnpm', [...filters, 'run', 'build'], { cwd: repoRoot, encoding: 'utf8', timeout: 180_000 });
  if (result.status !== 0) throw new Error(`building ${missing.join(', ')} failed:\n${result.stdout}${result.stderr}`);
}

/** Every file under `dir`, as servePages wants them: '/path' → [content type, body]. */
function pagesOf(dir: string): Record<string, readonly [string, string]> {
  const pages: Record<string, readonly [string, string]> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const type = CONTENT_TYPES[extname(file)];
    if (type === undefined) throw new Error(`the build emitted ${file}, which this test does not know how to serve`);
    pages[`/${relative(dir, file).split('\\').join('/')}`] = [type, readFileSync(file, 'utf8')];
  }
  const index = pages['/index.html'];
  if (index === undefined) throw new Error('the build emitted no index.html');
  pages['/'] = index;
  return pages;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let browser: Browser | undefined;
let page: Page;
let server: { url: string; close: () => Promise<void> } | undefined;
const pageErrors: string[] = [];
const offLoopback: string[] = [];

beforeAll(async () => {
  ensureBuiltPackages();
  await build({
    root: exampleDir,
    configFile: join(exampleDir, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  server = await servePages(pagesOf(outDir));
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  // Loopback only: anything else the page asks for is refused and recorded.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    offLoopback.push(url.href);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(server.url, { timeout: 15_000 });
  await page.waitForFunction(() => 'sluiceExample' in window, undefined, { timeout: 10_000 });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

function typeaheadState() {
  return page.evaluate(() => (window as unknown as { sluiceExample: ExampleApi }).sluiceExample.typeahead());
}

function streamState() {
  return page.evaluate(() => (window as unknown as { sluiceExample: ExampleApi }).sluiceExample.stream());
}

describe('examples/browser in headless Chromium', () => {
  it('keeps typeahead requests within the token bucket and answers the last query', async () => {
    const { ratePerSecond, burst } = SETTINGS.typeahead;
    const typed = 'rio grande';
    await page.locator('#query').pressSequentially(typed, { delay: 40, timeout: 10_000 });
    // Done once the last keystroke has been sent and every answer is in.
    await page.waitForFunction(
      () => {
        const state = (window as unknown as { sluiceExample: ExampleApi }).sluiceExample.typeahead();
        return !state.pending && state.inFlight === 0;
      },
      undefined,
      { timeout: 10_000 },
    );
    const state = await typeaheadState();
    const { keystrokes, sent, merged, answered, stale } = state.stats;

    expect(keystrokes).toBe(typed.length);
    expect(sent + merged).toBe(keystrokes); // every keystroke was sent or merged, none lost
    expect(merged).toBeGreaterThan(0);
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(answered + stale).toBe(sent);

    // The token bucket's promise, on the page's own clock: any run of k consecutive requests
    // spans at least (k − burst) / rate seconds. 2 ms of slack for the promise hop after a grant.
    const times = state.sentAt;
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        const spanMs = (times[j] as number) - (times[i] as number);
        expect(j - i + 1, `requests #${i + 1}–#${j + 1} within ${spanMs.toFixed(1)} ms`).toBeLessThanOrEqual(
          burst + (ratePerSecond * (spanMs + 2)) / 1_000,
        );
      }
    }
    // and so over the whole typing session
    const elapsedMs = (times[times.length - 1] as number) - (state.firstKeystrokeAt as number);
    expect(sent).toBeLessThanOrEqual(burst + (ratePerSecond * (elapsedMs + 2)) / 1_000);

    // The answer on screen is for the last query typed.
    expect(await page.locator('#query').inputValue()).toBe(typed);
    expect(state.shownQuery).toBe(typed);
    expect(state.shownMatches).toEqual(['Rio Grande']);
    await expect(page.locator('#answer-title').textContent()).resolves.toBe(`Answer for “${typed}”`);
    await expect(page.locator('#sent').textContent()).resolves.toBe(String(sent));
  }, 30_000);

  it('streams tokens in order at the throttle pace, the model held a few tokens ahead, the page responsive', async () => {
    const { ratePerSecond, burst, maxPerFrame } = SETTINGS.stream;
    const tokens = tokenize(STORY);
    await page.locator('#start').click({ timeout: 10_000 });
    await page.waitForFunction(
      () => ((window as unknown as { sluiceExample: ExampleApi }).sluiceExample.stream().stats?.rendered ?? 0) >= 30,
      undefined,
      { timeout: 10_000 },
    );

    // Clicks while the text streams: each handler runs promptly, and the page keeps streaming.
    const clicks = 5;
    const clickRoundTripsMs: number[] = [];
    for (let i = 0; i < clicks; i++) {
      const started = performance.now();
      await page.locator('#ping').click({ timeout: 5_000 });
      clickRoundTripsMs.push(performance.now() - started);
      await sleep(50);
    }

    await page.waitForFunction(() => !(window as unknown as { sluiceExample: ExampleApi }).sluiceExample.stream().running, undefined, {
      timeout: 30_000,
    });
    const { stats, text, pingDelaysMs, pingsWhileStreaming, maxStallMs } = await streamState();
    if (stats === undefined) throw new Error('the stream never started');

    // in order, nothing lost or doubled: the text on screen is the model's text
    expect(text).toBe(tokens.join(''));
    expect(stats.total).toBe(tokens.length);
    expect(stats.produced).toBe(tokens.length);
    expect(stats.rendered).toBe(tokens.length);

    // Backpressure reached the model: it never ran more than a few tokens ahead of the screen
    // (one frame's worth, plus one token in each stage of the pipe), where left alone it would
    // have written the whole text before the first frame.
    expect(stats.maxLead).toBeGreaterThan(0);
    expect(stats.maxLead).toBeLessThanOrEqual(maxPerFrame + 4);

    // Paced by the bucket, not by the model's 2,000 tokens/s.
    const elapsedMs = (stats.finishedAt as number) - stats.startedAt;
    expect(elapsedMs).toBeGreaterThanOrEqual(((tokens.length - burst) / ratePerSecond) * 1_000 - 20);

    // Responsive: every click reached its handler promptly, most (normally all) of them while
    // the text streamed; at least 3, so a slow machine finishing the stream early cannot fail it.
    expect(pingDelaysMs).toHaveLength(clicks);
    expect(pingsWhileStreaming).toBeGreaterThanOrEqual(3);
    expect(Math.max(...pingDelaysMs)).toBeLessThan(250);
    expect(Math.max(...clickRoundTripsMs)).toBeLessThan(2_000);
    await expect(page.locator('#ping-result').textContent()).resolves.toMatch(/^5 clicks, last answered in \d+\.\d ms$/);

    console.log(
      `[example-browser] ${tokens.length} tokens in ${Math.round(elapsedMs)} ms; model ahead by at most ${stats.maxLead}; ` +
        `click handler delays ${pingDelaysMs.map((d) => d.toFixed(1)).join(', ')} ms (${pingsWhileStreaming} while streaming); longest main-thread stall ${Math.round(maxStallMs)} ms`,
    );
  }, 60_000);

  it('loads nothing from off the machine, logs no errors, and leaves a screenshot for the docs', async () => {
    expect(offLoopback).toEqual([]);
    expect(pageErrors).toEqual([]);
    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.locator('#query').blur();
    const png = await page.screenshot({ path: screenshotPath, fullPage: true, timeout: 15_000 });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  }, 30_000);
});
