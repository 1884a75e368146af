/**
 * The installed `syncline` is the compiled CLI: package.json "bin" names the file `npm run build` writes
 * for client/cli.ts, and the source starts with the node shebang tsc copies into it. The build itself is
 * not run here (CI does not build; tests run the sources through tsx).
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const json = (file: string): any => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

test('package.json "bin" runs the compiled client/cli.ts with node', () => {
  const pkg = json('package.json');
  const build = json('tsconfig.build.json');
  expect(build.compilerOptions.rootDir).toBe('.');
  expect(build.include).toContain('client');
  expect(pkg.bin).toEqual({ syncline: `${build.compilerOptions.outDir}/client/cli.js` });
  expect(fs.readFileSync(path.join(ROOT, 'client/cli.ts'), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  // A fresh dist/ has no executable bit: the build sets it, or a linked `syncline` is refused by the shell.
  expect(pkg.scripts.build).toContain("chmodSync('dist/client/cli.js',0o755)");
  expect(pkg.scripts.syncline).toBe('tsx client/cli.ts');
});
