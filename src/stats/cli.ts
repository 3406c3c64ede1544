// `lwin alpha` (tail index of anyone's samples) and `lwin stable` (the symmetric α-stable law's CDF, density and
// quantiles), SPEC §8 and §11. Errors are thrown with messages meant for people; the main CLI prints them.
import { Argument, Option, type Command } from 'commander';
import { ALPHA_METHODS, estimateStable, parseAlphaMethod, type StableEstimate } from './estimate.ts';
import { readSamplesFile } from './samples-file.ts';
import { MAX_STABLE_ALPHA, MIN_STABLE_ALPHA, stableCdf, stablePdf, stableQuantile } from './stable.ts';

interface AlphaFlags {
  method: string;
  json?: boolean;
}

interface StableFlags {
  alpha: string;
  scale: string;
  json?: boolean;
}

const STABLE_FUNCTIONS = ['cdf', 'pdf', 'quantile'] as const;
type StableFunction = (typeof STABLE_FUNCTIONS)[number];

/** A number from the command line, or an error naming what it was for. */
export function parseNumber(text: string, what: string): number {
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`${what} must be a number, got '${text}'`);
  return value;
}

export function formatEstimate(file: string, estimate: StableEstimate): string {
  const lines = [
    `file      ${file}`,
    `samples   ${estimate.nSamples}`,
    `method    ${estimate.methodUsed}${estimate.methodUsed !== estimate.method ? ` (fallback from ${estimate.method})` : ''}`,
    `alpha     ${estimate.alpha.toPrecision(6)}`,
    `sigma     ${estimate.sigma.toPrecision(6)}`,
    `reliable  ${estimate.alphaReliable ? 'yes' : 'no'}`,
  ];
  for (const note of estimate.notes) lines.push(`note      ${note}`);
  return lines.join('\n');
}

function runAlpha(file: string, flags: AlphaFlags): void {
  const method = parseAlphaMethod(flags.method);
  const samples = readSamplesFile(file);
  const estimate = estimateStable(samples, method);
  console.log(flags.json ? JSON.stringify({ file, ...estimate }, null, 2) : formatEstimate(file, estimate));
}

/** Evaluates one of the law's functions at each value. */
export function evaluateStable(fn: StableFunction, values: readonly number[], alpha: number, scale: number): number[] {
  if (!(alpha >= MIN_STABLE_ALPHA && alpha <= MAX_STABLE_ALPHA)) {
    throw new Error(`--alpha must lie in [${MIN_STABLE_ALPHA}, ${MAX_STABLE_ALPHA}], got ${alpha}`);
  }
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`--scale must be a positive number, got ${scale}`);
  if (fn === 'quantile') {
    const bad = values.find((p) => !(p >= 0 && p <= 1));
    if (bad !== undefined) throw new Error(`quantile needs probabilities in [0, 1], got ${bad}`);
    return values.map((p) => stableQuantile(p, alpha, scale));
  }
  return values.map((x) => (fn === 'cdf' ? stableCdf(x, alpha, scale) : stablePdf(x, alpha, scale)));
}

function runStable(fn: StableFunction, valueTexts: string[], flags: StableFlags): void {
  const alpha = parseNumber(flags.alpha, '--alpha');
  const scale = parseNumber(flags.scale, '--scale');
  const values = valueTexts.map((text, i) => parseNumber(text, `value ${i + 1}`));
  const results = evaluateStable(fn, values, alpha, scale);
  if (flags.json) {
    // JSON has no infinities (JSON.stringify writes null): the quantiles at p = 0 and 1 are written as the strings
    // "-Infinity" and "Infinity", the text output's spelling, which Number(), float() and numpy all parse back.
    const written = results.map((r) => (Number.isFinite(r) ? r : String(r)));
    console.log(JSON.stringify({ function: fn, alpha, scale, values, results: written }, null, 2));
    return;
  }
  for (let i = 0; i < values.length; i++) console.log(`${values[i]}\t${results[i]}`);
}

export function registerStatsCommands(program: Command): void {
  program
    .command('alpha')
    .description('estimate the tail index α and scale σ of a symmetric α-stable law from samples (.npy, .csv or .txt)')
    .argument('<file>', '.npy array (float32/float64, any shape, flattened) or text with one number per line or comma separated')
    .addOption(new Option('--method <name>', 'estimator').choices([...ALPHA_METHODS]).default('ecf'))
    .option('--json', 'print one JSON object instead of text')
    .action((file: string, flags: AlphaFlags) => runAlpha(file, flags));

  program
    .command('stable')
    .description('CDF, density or quantiles of the symmetric α-stable law with characteristic function exp(-|σt|^α)')
    .addArgument(new Argument('<function>', 'what to evaluate').choices([...STABLE_FUNCTIONS]))
    .argument('<values...>', 'points x (cdf, pdf) or probabilities p (quantile); negative numbers are fine')
    .requiredOption('--alpha <A>', `tail index in [${MIN_STABLE_ALPHA}, ${MAX_STABLE_ALPHA}]`)
    .option('--scale <S>', 'scale σ', '1')
    .option('--json', 'print one JSON object instead of text')
    .action((fn: StableFunction, values: string[], flags: StableFlags) => runStable(fn, values, flags));
}
