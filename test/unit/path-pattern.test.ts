import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globToRegExp, ignoreMatcher, pathFilter } from '@paddock/protocol';

describe('path patterns', () => {
  it('turns globs into anchored expressions', () => {
    assert.ok(globToRegExp('*.ts').test('a.ts'));
    assert.ok(!globToRegExp('*.ts').test('d/a.ts'));
    assert.ok(globToRegExp('src/**/*.ts').test('src/a.ts'));
    assert.ok(globToRegExp('src/**/*.ts').test('src/x/y/a.ts'));
    assert.ok(globToRegExp('a?c').test('abc'));
    assert.ok(globToRegExp('[ab].txt').test('b.txt'));
    assert.ok(!globToRegExp('[!ab].txt').test('b.txt'));
    assert.ok(globToRegExp('a.b+c').test('a.b+c'));
    assert.ok(!globToRegExp('a.b').test('axb'));
  });

  it('filters watch paths by prefix or glob', () => {
    const prefix = pathFilter('src/app');
    assert.ok(prefix('src/app'));
    assert.ok(prefix('src/app/x.ts'));
    assert.ok(!prefix('src/apple'));
    const name = pathFilter('*.md');
    assert.ok(name('docs/deep/a.md'));
    assert.ok(!name('a.mdx'));
    assert.ok(pathFilter('')('anything'));
  });

  it('ignores like .gitignore: any segment, or anchored when the pattern has a slash', () => {
    const ignored = ignoreMatcher(['.git', 'node_modules', '*.log', 'build/out']);
    assert.ok(ignored('node_modules'));
    assert.ok(ignored('pkg/node_modules/x/y.js'));
    assert.ok(ignored('.git/HEAD'));
    assert.ok(ignored('logs/today.log'));
    assert.ok(ignored('build/out/a'));
    assert.ok(!ignored('x/build/out/a'));
    assert.ok(!ignored('src/gitx'));
  });
});
