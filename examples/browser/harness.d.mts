// Types for harness.mjs (a plain Node module so scripts run it without a TypeScript loader).
import type { Browser, Page } from 'playwright-core';
import type { SmokeResult } from '../../src/doctor/smoke.ts';

export declare const CHROMIUM_PATH: string;
export declare const CHROMIUM_ARGS: readonly string[];

export interface StaticServer {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  close(): Promise<void>;
}
export declare function serveDirectory(root: string): Promise<StaticServer>;

export declare function launchChromium(options?: { executablePath?: string; args?: string[] }): Promise<Browser>;

export interface PageRun {
  page: Page;
  result: SmokeResult | undefined;
  error: string | undefined;
  /** Console messages and uncaught page errors, in order. */
  log: string[];
}
export declare function runPage(
  browser: Browser,
  url: string,
  options?: { timeoutMs?: number; viewport?: { width: number; height: number } },
): Promise<PageRun>;
