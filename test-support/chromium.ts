import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: the only browser the tests use (none is ever downloaded). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Starts Debian's headless Chromium through Playwright. The flags keep it off the network (this
 * machine has none but loopback) and out of the root user's sandbox restrictions.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
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

/**
 * Bundles a browser entry (TypeScript, importing `@sluice/*` by name) into one ES module, the
 * packages resolved to their sources through the root tsconfig's `paths`, for the browser
 * platform: a Node built-in anywhere in the graph fails the bundle.
 */
export async function bundleForBrowser(entryUrl: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(entryUrl)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild produced nothing for ${entryUrl}`);
  return output.text;
}

/** A loopback HTTP server of fixed pages: path → [content type, body]. */
export async function servePages(pages: Record<string, readonly [string, string]>): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const page = pages[new URL(request.url ?? '/', 'http://127.0.0.1').pathname];
    if (page === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': page[0], 'cache-control': 'no-store' }).end(page[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      }),
  };
}
