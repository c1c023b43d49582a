import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** Debian's Chromium (`.ci/run` installs the `chromium` package when it is missing). */
export const CHROMIUM_PATH = process.env.REGENFLOW_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged as errors, and CSP violations: a test asserts there are none. */
  problems: string[];
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile folder, removed on close. */
export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package (apt-get install chromium)`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'regenflow-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A test app listening on a port, a Chromium page on it, and the calls a browser test makes. */
export interface UiSession {
  app: Awaited<ReturnType<typeof createTestApp>>;
  base: string;
  /** The admin's HTTP client, for arranging what the page then shows. */
  call: ReturnType<typeof httpClient>;
  browser: Browser;
  page: Page;
  /** A screenshot in test-results/e2e/<name>.png (the README's images come from these). */
  shot(name: string): Promise<Buffer>;
  /** Signs in afresh with a test role's token and waits until the page says who it is. */
  signIn(role: keyof typeof TEST_TOKENS): Promise<void>;
  close(): Promise<void>;
}

export const SHOTS = join(repositoryRoot, 'test-results', 'e2e');

/**
 * What every browser test starts with: an app (the modeler bundle is built once per run by
 * `build-modeler.mjs`), the given files deployed through the API (paths from the repository's
 * root), and a fresh Chromium.
 */
export async function openUi(options: { app?: Parameters<typeof createTestApp>[0]; deploy?: string[] } = {}): Promise<UiSession> {
  await mkdir(SHOTS, { recursive: true });
  const app = await createTestApp(options.app);
  const base = `http://127.0.0.1:${await app.listen()}`;
  const call = httpClient(base);
  for (const path of options.deploy ?? []) {
    const response = await call('POST', '/api/deployments', { name: basename(path), xml: await readFile(join(repositoryRoot, path), 'utf8') });
    if (response.status !== 201) throw new Error(`deploying ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
  const browser = await launchBrowser();
  const page = browser.page;
  return {
    app,
    base,
    call,
    browser,
    page,
    shot: (name) => page.screenshot({ path: join(SHOTS, `${name}.png`) }),
    async signIn(role) {
      await page.goto(`${base}/`);
      await page.evaluate('sessionStorage.clear()');
      await page.goto(`${base}/#/instances`);
      await page.fill('#rf-token', TEST_TOKENS[role]);
      await page.click('#rf-login button[type=submit]');
      await page.waitForSelector(`#rf-who:text-is("${role}")`);
    },
    async close() {
      await browser.close();
      await app.dispose();
    },
  };
}
