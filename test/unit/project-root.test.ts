/**
 * Paths into the project (.data/pg, .data/bin) are found from the sources and from the compiled tree
 * alike: `syncline runs` from dist/ must open the project's embedded Postgres, not a new one in dist/.
 */
import path from 'node:path';
import { projectRoot } from '../../scripts/services/project-root';

const ROOT = path.resolve(__dirname, '../..');

test('the project root is the nearest directory with a package.json, from the sources and from dist/', () => {
  expect(projectRoot(path.join(ROOT, 'scripts/services'))).toBe(ROOT);
  expect(projectRoot(path.join(ROOT, 'dist/scripts/services'))).toBe(ROOT);
  expect(projectRoot(path.join(ROOT, 'dist/client'))).toBe(ROOT);
  expect(projectRoot()).toBe(ROOT);
});
