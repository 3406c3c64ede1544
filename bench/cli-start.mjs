// How long `lwin --version` takes to start, as a person typing it sees it: the median and range of N spawns of
// bin/lwin.js (after one warm-up spawn, so the disk cache is the same for every run). Usage:
//   node bench/cli-start.mjs [runs=10] [-- lwin args (default --version)]
// LWIN_BIN=<path> times another lwin binary (an older checkout's, an installed package's).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 10);
const bin = process.env.LWIN_BIN ?? fileURLToPath(new URL('../bin/lwin.js', import.meta.url));
const args = process.argv.includes('--') ? process.argv.slice(process.argv.indexOf('--') + 1) : ['--version'];
const once = () => {
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`lwin ${args.join(' ')} exited with ${run.status}: ${run.stderr}`);
  return performance.now() - t0;
};
once();
const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
const median = times[Math.floor(runs / 2)];
console.log(`${bin} ${args.join(' ')}: median ${median.toFixed(0)} ms over ${runs} runs (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)})`);
