import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFields, formatTable, truncate } from './table';

describe('formatTable', () => {
  it('aligns columns two spaces apart without trailing blanks', () => {
    assert.equal(
      formatTable(['A', 'LONG HEADER', 'C'], [['xxxx', 'y', ''], ['z', '', 'last']]),
      'A     LONG HEADER  C\nxxxx  y\nz                  last\n',
    );
  });

  it('prints only the header when there are no rows', () => {
    assert.equal(formatTable(['NAME', 'VERSION'], []), 'NAME  VERSION\n');
  });

  it('keeps each row on one line', () => {
    assert.equal(formatTable(['M'], [['line one\n  line two\tend']]), 'M\nline one line two end\n');
  });
});

describe('formatFields', () => {
  it('aligns values after the longest key', () => {
    assert.equal(formatFields([['ID', 'a'], ['Hostname', 'b']]), 'ID:        a\nHostname:  b\n');
  });
});

describe('truncate', () => {
  it('cuts long text and marks the cut', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abcd', 4), 'abcd');
    assert.equal(truncate('a\nb', 10), 'a b');
  });
});
