/**
 * The text of a REST JSON request body: what `JSON.stringify` writes, except that an `ExactNumber` is
 * written as a number literal of its digits (`123456789012345678`), through common/json-exact.ts.
 * `JSON.stringify` can write a number only from a double, and Node 20 has no `JSON.rawJSON`.
 */
import { stringifyExact } from '../../common/json-exact';

export const jsonBody = (body: unknown): string => stringifyExact(body);
