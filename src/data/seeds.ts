// Named random streams from one user seed. Every random quantity of a run draws from its own stream,
// `new Rng(deriveSeed(seed, ...labels))`, so a stream can be recreated on its own (a resumed run regenerates
// epoch e's validation set without replaying epochs 0…e-1) and adding a stream never shifts another.
//
// The labels are hashed with MurmurHash3's 32-bit body and finaliser over a word sequence: the seed's low and
// high 32-bit halves, then per label a word holding its kind and length, then its contents (a string's UTF-16 code
// units, an integer's two halves). Kind and length words keep ('ab', 'c'), ('a', 'bc') and ('1') ≠ (1) apart.
// The result is a 32-bit unsigned integer, what Rng's constructor consumes.
import { Rng } from '../util/random.ts';

export type SeedLabel = string | number;

const KIND_STRING = 0x53000000; // 'S' in the top byte, the length below
const KIND_INTEGER = 0x49000000; // 'I'

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** MurmurHash3's body step for one 32-bit word. */
function mixWord(hash: number, word: number): number {
  let k = Math.imul(word >>> 0, 0xcc9e2d51);
  k = Math.imul(rotl(k >>> 0, 15), 0x1b873593);
  const h = rotl((hash ^ k) >>> 0, 13);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
function finalise(hash: number, words: number): number {
  let h = (hash ^ words) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function integerHalves(value: number, what: string): [number, number] {
  if (!Number.isSafeInteger(value)) throw new TypeError(`${what} must be an integer in ±2^53, got ${value}`);
  return [value >>> 0, Math.floor(value / 2 ** 32) >>> 0];
}

/** A 32-bit seed for the stream named by `labels` under the user seed `seed`. */
export function deriveSeed(seed: number, ...labels: SeedLabel[]): number {
  let hash = 0x6c77696e; // 'lwin'
  let words = 0;
  const add = (word: number) => {
    hash = mixWord(hash, word);
    words++;
  };
  for (const half of integerHalves(seed, 'seed')) add(half);
  for (const label of labels) {
    if (typeof label === 'string') {
      if (label.length > 0xffffff) throw new RangeError(`seed label is too long (${label.length} characters)`);
      add(KIND_STRING | label.length);
      for (let i = 0; i < label.length; i++) add(label.charCodeAt(i));
    } else {
      add(KIND_INTEGER | 2);
      for (const half of integerHalves(label, `seed label ${label}`)) add(half);
    }
  }
  return finalise(hash, words);
}

/** The Rng for a named stream: `new Rng(deriveSeed(seed, ...labels))`. */
export function streamRng(seed: number, ...labels: SeedLabel[]): Rng {
  return new Rng(deriveSeed(seed, ...labels));
}
