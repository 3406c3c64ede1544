// The one CSV reader (study outputs, aggregate, report, trajectory resume): quoting, number spellings, and refusals
// that name the file, the line and the column.
import { describe, expect, it } from 'vitest';
import { numericColumn, numericRecords, parseCsv } from '../../src/io/study-files.ts';

describe('parseCsv', () => {
  it.each([
    ['plain', 'a,b\n1,2\n', ['a', 'b'], [['1', '2']]],
    ['CRLF and blank lines', 'a,b\r\n1,2\r\n\r\n3,4', ['a', 'b'], [['1', '2'], ['3', '4']]],
    ['quoted comma and doubled quote', 'argument,value\ncells,"const,gru"\nnote,"say ""hi"""\n', ['argument', 'value'], [['cells', 'const,gru'], ['note', 'say "hi"']]],
    ['empty fields', 'a,b,c\n,2,\n', ['a', 'b', 'c'], [['', '2', '']]],
  ])('%s', (_name, text, header, rows) => {
    expect(parseCsv(text, 'x.csv')).toEqual({ source: 'x.csv', header, rows });
  });

  it.each([
    ['no header', '\n\n', 'x.csv is empty; expected a header row'],
    ['a short row', 'a,b\n1,2\n3\n', 'x.csv: line 3 has 1 fields for 2 columns (a,b)'],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseCsv(text, 'x.csv')).toThrow(message);
  });
});

describe('numericColumn', () => {
  it('reads format.ts\'s spellings of non-finite values', () => {
    const table = parseCsv('v\ninf\n-inf\nnan\n\nInfinity\n1.5e-3\n', 's.csv');
    // The blank line is dropped as a line; an empty field is tested beside it.
    expect(numericColumn(table, 'v')).toEqual([Infinity, -Infinity, NaN, Infinity, 1.5e-3]);
    expect(numericColumn(parseCsv('a,v\n1,\n', 's.csv'), 'v')).toEqual([NaN]);
  });

  it.each([
    ['a missing column', 'a\n1\n', 'b', "s.csv has no column 'b' (its columns: a)"],
    ['a word', 'a\n1\nabc\n', 'a', "s.csv: line 3, column a: 'abc' is not a number"],
  ])('refuses %s', (_name, text, column, message) => {
    expect(() => numericColumn(parseCsv(text, 's.csv'), column)).toThrow(message);
  });
});

describe('numericRecords', () => {
  it('gives records when the header is exactly the columns, and undefined otherwise', () => {
    expect(numericRecords<{ epoch: number; ell: number }>('epoch,ell\n2,1\n4,\n', 't.csv', ['epoch', 'ell'])).toEqual([{ epoch: 2, ell: 1 }, { epoch: 4, ell: NaN }]);
    expect(numericRecords('ell,epoch\n1,2\n', 't.csv', ['epoch', 'ell'])).toBeUndefined();
  });
});
