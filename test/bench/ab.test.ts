// The interleaved A/B bench's pure parts: reading variants and taking medians (its GPU run is in gpu-kit.test.ts).
import { describe, expect, it } from 'vitest';
import { median, parseVariant } from '../../bench/ab.ts';

describe('bench ab', () => {
  it('reads a variant as environment assignments, a blank one as the defaults', () => {
    expect(parseVariant(' LWIN_PARTIALS=1  LWIN_REPLAY=off ')).toEqual([['LWIN_PARTIALS', '1'], ['LWIN_REPLAY', 'off']]);
    expect(parseVariant('LWIN_TILE=')).toEqual([['LWIN_TILE', '']]);
    expect(parseVariant('  ')).toEqual([]);
  });
  it('refuses a word that is no NAME=VALUE, naming it and the variant', () => {
    expect(() => parseVariant('LWIN_PARTIALS=1 replay')).toThrow(/"replay" in "LWIN_PARTIALS=1 replay" is no NAME=VALUE assignment/);
    expect(() => parseVariant('lwin_hold=0')).toThrow(/no NAME=VALUE/);
  });
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
