// Types for build.mjs (a plain Node script so it runs without a TypeScript loader).
export declare const DEFAULT_OUTDIR: string;
export interface BrowserBuildOptions {
  /** Default examples/browser/dist. */
  outdir?: string;
  minify?: boolean;
}
export declare function buildBrowserExample(options?: BrowserBuildOptions): Promise<{ outdir: string; entry: string }>;
