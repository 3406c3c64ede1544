// The one module in lwin that knows which JavaScript runtime it is in.
// Node gets WebGPU from Dawn's bindings (the `webgpu` package); Chrome and Deno expose `navigator.gpu`.
// Everything else in lwin takes a GPUDevice.

export type RuntimeName = 'node' | 'deno' | 'browser';

/** Options that only Dawn (Node) understands; ignored elsewhere. */
export interface DawnOptions {
  /** Dawn backend: 'vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles', 'null'. */
  backend?: string;
  /** Exact adapter name as Dawn lists it (see `lwin doctor --list-adapters`). */
  adapterName?: string;
  /** Dawn toggles passed through verbatim (`enable-dawn-features=` / `disable-dawn-features=`). */
  enableToggles?: string[];
  disableToggles?: string[];
}

export interface GpuEntry {
  runtime: RuntimeName;
  gpu: GPU;
  /** Human-readable description of where the adapter was looked for (for error messages). */
  source: string;
  /** Adapters the runtime can see, when it can tell ('backend: name' strings). */
  listAdapters(): Promise<string[]>;
}

interface DenoGlobal {
  Deno?: { version?: { deno?: string } };
}

/**
 * A setting from the environment (`LWIN_TILE`, `LWIN_WEIGHTS`, `LWIN_UNROLL`, `LWIN_GRAD_UNROLL`, `LWIN_GRAD_KERNEL`, `LWIN_GRAD_CHUNKS`, `LWIN_HOLD`, `LWIN_SCRATCH_POOL`, `LWIN_PIPELINE`, `LWIN_REPLAY`:
 * benchmark switches): Node's process.env, else undefined. Deno without --allow-env throws on access, and a browser has no environment; both
 * get the defaults.
 */
export function envSetting(name: string): string | undefined {
  try {
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  } catch {
    return undefined;
  }
}

/**
 * An integer setting from the environment that must be one of `allowed` (benchmark switches such as LWIN_UNROLL):
 * undefined when unset or empty; anything else is refused naming the values it takes and what it means.
 */
export function envChoice(name: string, allowed: readonly number[], meaning: string): number | undefined {
  const env = envSetting(name);
  if (env === undefined || env === '') return undefined;
  const n = Number(env);
  if (!allowed.includes(n)) throw new Error(`${name}=${env}: use one of ${allowed.join(', ')} (${meaning})`);
  return n;
}

export function detectRuntime(): RuntimeName {
  if ((globalThis as DenoGlobal).Deno?.version?.deno) return 'deno';
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (proc?.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined') return 'node';
  return 'browser';
}

export function runtimeVersion(runtime: RuntimeName): string {
  if (runtime === 'deno') return `Deno ${(globalThis as DenoGlobal).Deno?.version?.deno ?? '?'}`;
  if (runtime === 'node') return `Node ${(globalThis as { process: { version: string } }).process.version}`;
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? 'browser';
}

// Dawn quantizes timestamps to 100 µs by default (a privacy measure for the web); lwin's profiler needs real resolution.
const DEFAULT_DISABLED_TOGGLES = ['timestamp_quantization'];

type DawnModule = { create(options: string[]): GPU; globals: object };
let dawnModule: Promise<DawnModule> | undefined;
// Dawn's `gpu` objects are kept here so they can be dropped at exit: a live instance can keep Node's loop alive.
const dawnInstances = new Set<GPU>();
const exitHooks = new Set<() => void>();
let exitHookInstalled = false;

/** The backends Dawn's Node bindings recognise (case-insensitively); anything else fails every adapter request. */
export const DAWN_BACKENDS = ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles', 'null'] as const;

function checkBackend(backend: string | undefined): void {
  if (backend === undefined || (DAWN_BACKENDS as readonly string[]).includes(backend.toLowerCase())) return;
  throw new Error(
    `'${backend}' is not a Dawn backend (--backend); valid backends: ${DAWN_BACKENDS.join(', ')} ` +
      '(vulkan on Linux and Windows, metal on macOS, d3d12 on Windows; null computes nothing and is for testing)',
  );
}

/**
 * Toggle names this Dawn build does not know. Dawn ignores an unknown toggle silently, so a misspelt one would
 * change nothing without a word; its names live as NUL-terminated strings in the dawn.node binary the `webgpu`
 * package loads, which is searched here. Returns [] when the binary cannot be found (nothing can be said).
 */
export async function unknownDawnToggles(names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  try {
    // Variable specifiers, as in loadDawn: browser bundlers must not try to resolve Node's modules.
    const load = <T>(specifier: string) => import(/* @vite-ignore */ specifier) as Promise<T>;
    const [{ readFile }, { createRequire }, { dirname, join }] = await Promise.all([
      load<typeof import('node:fs/promises')>('node:fs/promises'),
      load<typeof import('node:module')>('node:module'),
      load<typeof import('node:path')>('node:path'),
    ]);
    const main = createRequire(import.meta.url).resolve('webgpu');
    const platform = process.platform === 'darwin' ? 'darwin-universal' : `${process.platform}-${process.arch}`;
    const binary = await readFile(join(dirname(main), 'dist', platform, 'dawn.node'));
    return names.filter((name) => binary.indexOf(`\0${name}\0`, 0, 'latin1') < 0);
  } catch {
    return [];
  }
}

async function warnUnknownToggles(names: readonly string[]): Promise<void> {
  for (const name of await unknownDawnToggles(names)) {
    console.warn(`lwin: warning: '${name}' is not a toggle of this Dawn build, which ignores unknown toggles; check the spelling (Dawn's toggle names are snake_case, e.g. skip_validation)`);
  }
}

function dawnArgs(options: DawnOptions): string[] {
  const args: string[] = [];
  if (options.backend) args.push(`backend=${options.backend}`);
  if (options.adapterName) args.push(`adapter=${options.adapterName}`);
  if (options.enableToggles?.length) args.push(`enable-dawn-features=${options.enableToggles.join(',')}`);
  const disabled = [...DEFAULT_DISABLED_TOGGLES, ...(options.disableToggles ?? [])];
  args.push(`disable-dawn-features=${disabled.join(',')}`);
  return args;
}

async function loadDawn(): Promise<DawnModule> {
  // A variable specifier keeps browser bundlers from trying to resolve the native module.
  const specifier = 'webgpu';
  dawnModule ??= import(/* @vite-ignore */ specifier).then((m: DawnModule) => {
    // Dawn's constants (GPUBufferUsage, GPUMapMode, ...) are not globals in Node until installed.
    for (const [key, value] of Object.entries(m.globals)) {
      if (!(key in globalThis)) Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
    }
    return m;
  });
  return dawnModule;
}

/** Runs `hook` once when the process is about to exit (Node only); used to destroy devices and drop Dawn. */
export function onRuntimeExit(hook: () => void): () => void {
  exitHooks.add(hook);
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  if (!exitHookInstalled && proc && detectRuntime() === 'node') {
    exitHookInstalled = true;
    const runAll = () => {
      for (const h of [...exitHooks]) {
        exitHooks.delete(h);
        try { h(); } catch { /* exiting anyway */ }
      }
      dawnInstances.clear();
    };
    proc.once('beforeExit', runAll);
    proc.once('exit', runAll);
  }
  return () => exitHooks.delete(hook);
}

/** Parses Dawn's "Available adapters" list out of the error it gives for an unknown adapter name. */
export function parseDawnAdapterList(message: string): string[] {
  return message
    .split('\n')
    .map((line) => /\*\s*backend:\s*'([^']*)',\s*name:\s*'([^']*)'/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}: ${m[2]}`);
}

async function dawnAdapterList(): Promise<string[]> {
  const dawn = await loadDawn();
  // Dawn's documented way to list adapters: ask for one that does not exist and read its error.
  const probe = dawn.create(['adapter=\u0000lwin-list-adapters']);
  try {
    const adapter = await probe.requestAdapter();
    return adapter ? ['(Dawn returned an adapter for a bogus name; list unavailable)'] : [];
  } catch (error) {
    return parseDawnAdapterList(String((error as Error).message ?? error));
  }
}

export async function openGpu(options: DawnOptions = {}): Promise<GpuEntry> {
  const runtime = detectRuntime();
  if (runtime !== 'node') {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      throw new Error(
        runtime === 'deno'
          ? 'navigator.gpu is missing in this Deno. Use Deno 2.x (`npx deno --version`) on a machine with a Vulkan, Metal or D3D12 driver.'
          : 'navigator.gpu is missing: this browser has WebGPU off. Use Chrome 113+ (on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan).',
      );
    }
    return { runtime, gpu, source: 'navigator.gpu', listAdapters: async () => [] };
  }
  checkBackend(options.backend);
  const dawn = await loadDawn();
  await warnUnknownToggles([...(options.enableToggles ?? []), ...(options.disableToggles ?? [])]);
  const gpu = dawn.create(dawnArgs(options));
  dawnInstances.add(gpu);
  onRuntimeExit(() => dawnInstances.delete(gpu));
  const source = `Dawn (Node bindings), backend ${options.backend ?? 'default'}${options.adapterName ? `, adapter '${options.adapterName}'` : ''}`;
  return { runtime, gpu, source, listAdapters: dawnAdapterList };
}
