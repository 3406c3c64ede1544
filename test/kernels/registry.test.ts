// The kernel registry: every program a shader module defines belongs to a family of the registry, and every
// family's check dispatches that family's kernels and agrees with its float64 twin (what `lwin doctor` runs).
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { KERNEL_FAMILIES, checkAllKernels, familyOf } from '../../src/doctor/registry.ts';
import { describeComparison } from '../../src/reference/compare.ts';
import { CELL_KINDS } from '../../src/model/cells.ts';
import { checkForward, checkGradient, onSplitTiles, onTile, splitCheckTiles } from '../../src/doctor/checks.ts';
import { tileKey } from '../../shaders/cells/tile.ts';
import { vi } from 'vitest';

const gpu = useGpu({ profile: true });
const SHADERS = resolve(import.meta.dirname, '../../shaders');

function shaderFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? shaderFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Family names of every defineProgram in shaders/: `name: 'matmul'`, or `name: \`forward_${v.cell}\`` for per-cell programs. */
function declaredFamilies(): { family: string; perCell: boolean }[] {
  const found: { family: string; perCell: boolean }[] = [];
  for (const file of shaderFiles(SHADERS)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/defineProgram\(\{\s*name: (?:'(\w+)'|`(\w+)_\$\{v\.cell\}`)/g)) {
      found.push(m[1] ? { family: m[1], perCell: false } : { family: m[2]!, perCell: true });
    }
  }
  return found;
}

describe('kernel registry', () => {
  it('lists every program the shader modules define, and nothing else', () => {
    const declared = declaredFamilies();
    expect(declared.length).toBeGreaterThanOrEqual(16);
    const key = (f: { family: string; perCell: boolean }) => `${f.family}${f.perCell ? '_<cell>' : ''}`;
    // A family may have forms in several modules (weight_grad: shaders/grad.ts and grad-staged.ts), checked as one.
    expect([...new Set(declared.map(key))].sort()).toEqual(KERNEL_FAMILIES.map(key).sort());
  });

  it('maps program names to families, per cell where the family is', () => {
    expect(familyOf('forward_gru')?.family).toBe('forward');
    expect(familyOf('matmul')?.family).toBe('matmul');
    expect(familyOf('forward')).toBeUndefined();
    expect(familyOf('matmul_gru')).toBeUndefined();
  });

  it('checks every family against its float64 twin, and each check runs its family\'s kernels', async () => {
    const results = await checkAllKernels(gpu.ctx);
    expect(results.map((r) => r.family)).toEqual(KERNEL_FAMILIES.map((f) => f.family));
    for (const r of results) {
      expect(r.checks.length, r.family).toBeGreaterThan(0);
      for (const c of r.checks) expect(c.comparison.ok, describeComparison(`${r.family}: ${c.kernel} ${c.shape}`, c.comparison)).toBe(true);
    }
    const profiled = new Set(gpu.ctx.profiler!.report().kernels.map((k) => k.name));
    for (const f of KERNEL_FAMILIES) {
      for (const name of f.perCell ? CELL_KINDS.map((c) => `${f.family}_${c}`) : [f.family]) expect(profiled.has(name), `${name} was dispatched`).toBe(true);
    }
    for (const name of profiled) expect(familyOf(name), `${name} belongs to a family`).toBeDefined();
  });

  it('lwin doctor lists every family with its float64 twin, then every check, and exits 0', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stdout } = await promisify(execFile)('node', ['bin/lwin.js', 'doctor', '--json'], { timeout: 120_000, cwd: resolve(import.meta.dirname, '../..') });
    const report = JSON.parse(stdout) as { ok: boolean; families: { family: string; twin: string; ok: boolean }[]; checks: { family: string; ok: boolean }[] };
    expect(report.families.map((f) => [f.family, f.twin])).toEqual(KERNEL_FAMILIES.map((f) => [f.family, f.twin]));
    expect(report.families.every((f) => f.ok) && report.ok).toBe(true);
    // Checks shared by several families are listed once; every family has at least one of its own or a shared one.
    expect(new Set(report.checks.map((c) => c.family)).size).toBeGreaterThanOrEqual(12);
  });

  // A GPU's doctor also checks gru and lstm on the split tiles the autotune may pick (their threads, unlike a CPU
  // adapter's lanes, do not run in lock-step, so a race in the lane sums would show there). Here with a GPU's 8
  // partials forced, for gru: the same checks, against float64.
  it('on a GPU\'s partial sums, checks gru on split tiles (held in the forward; held, 4 lanes in 512 threads; lanes by subgroup shuffles)', async () => {
    expect(splitCheckTiles(gpu.ctx)).toEqual([]);
    vi.stubEnv('LWIN_PARTIALS', '8');
    try {
      // lavapipe's subgroups are runs of 8 invocations, so the lanes also add by shuffles (-sg), 4 sequences a group.
      expect(splitCheckTiles(gpu.ctx).map(tileKey)).toEqual(['r1k1hp32wg256-s2-pf', 'r1k1hp32wg512-s4-p', 'r1k1hp32wg256-s2-sg-pf', 'r4k1hp32wg512-s4-sg-p']);
      const forward = await onSplitTiles(gpu.ctx, (cell) => checkForward(gpu.ctx, cell), onTile, ['gru']);
      const gradients = await onSplitTiles(gpu.ctx, (cell) => checkGradient(gpu.ctx, cell), (g, tile) => ({ loss: onTile(g.loss, tile), grad: onTile(g.grad, tile) }), ['gru']);
      for (const check of [...forward, ...gradients.flatMap((g) => [g.loss, g.grad])]) {
        expect(check.comparison.ok, `${check.kernel} (${check.shape}): ${describeComparison(check.kernel, check.comparison)}`).toBe(true);
      }
      expect(forward.map((c) => c.shape)).toEqual(expect.arrayContaining([expect.stringContaining('tile r1k1hp32wg512-s4-p'), expect.stringContaining('tile r4k1hp32wg512-s4-sg-p')]));
    } finally {
      vi.unstubAllEnvs();
    }
  }, 240_000);
});
