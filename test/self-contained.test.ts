/**
 * The repository stands alone: no file it ships may point outside its own root, since a user's
 * clone has no sibling folders. `.ci/run` proves the same at run time by testing from a clone in an
 * empty folder; this test names the offending file and line before anything runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const CHECKED = /\.(ts|mts|mjs|js|json|ya?ml|md|sh)$|^\.ci\/run$/;
// A relative path that starts by going up, any number of levels.
const UPWARD_PATH = /(?:\.\.\/)+[\w.@-][\w./@-]*/g;

function trackedFiles(): string[] {
  const listing = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return listing
    .split('\n')
    .filter((file) => file !== '' && CHECKED.test(file) && file !== 'package-lock.json');
}

function escapes(file: string): string[] {
  const found: string[] = [];
  const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  lines.forEach((line, index) => {
    for (const [reference] of line.matchAll(UPWARD_PATH)) {
      // package.json scripts run from the root; everything else is relative to its own folder.
      const from = file === 'package.json' ? ROOT : path.dirname(path.join(ROOT, file));
      const target = path.resolve(from, reference);
      if (target !== ROOT && !target.startsWith(ROOT + path.sep)) {
        found.push(`${file}:${index + 1}: ${reference}`);
      }
    }
  });
  return found;
}

describe('the repository stands alone', () => {
  it('has no file that refers to a path outside the repository root', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(20);
    expect(files.flatMap(escapes)).toEqual([]);
  });

  it('catches such a reference when there is one', () => {
    // Built from parts, so this file does not hold the very reference it looks for.
    const outside = ['..', '..', 'shared', 'apollo-openapi.json'].join('/');
    const line = `const DOCUMENT_PATH = path.resolve(__dirname, '${outside}');`;
    const references = [...line.matchAll(UPWARD_PATH)].map(([reference]) => reference);
    expect(references).toEqual([outside]);
    expect(path.resolve(ROOT, 'test', references[0] as string).startsWith(ROOT + path.sep)).toBe(false);
  });
});
