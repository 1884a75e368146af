import fs from 'node:fs';
import path from 'node:path';

/**
 * The project directory (the nearest one above `from` with a package.json). A fixed `../..` from
 * __dirname would point into dist/ once compiled: the compiled CLI would start an empty Postgres in
 * dist/.data/pg instead of sharing the project's .data/pg.
 */
export function projectRoot(from = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) throw new Error(`no package.json above ${from}: cannot find the syncline project directory`);
  }
}
