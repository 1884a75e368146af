/** common/json-exact.ts `jsonValueText`: Postgres's text of a json(b) value as a text field receives it. */
import { jsonValueText, parseJsonExact, parseJsonKeepingDigits, JsonNumber } from '../../common/json-exact';

describe('jsonValueText', () => {
  it('keeps number literals a double would change, as written', () => {
    for (const [text, want] of [
      ['{"id": 12345678901234567890}', '{"id":12345678901234567890}'],
      ['[9007199254740993, 9007199254740992]', '[9007199254740993,9007199254740992]'],
      ['0.1000000000000000055511151231257827', '0.1000000000000000055511151231257827'],
      ['[1e400, -1e-400]', '[1e400,-1e-400]'],
      ['123456789.123456789123', '123456789.123456789123'],
    ] as const)
      expect({ text, got: jsonValueText(text) }).toEqual({ text, got: want });
  });
  it('writes every other value as JSON.stringify(JSON.parse(text)) always did', () => {
    for (const text of [
      '{"a": 1, "b": [1, 2, {"c": "x y"}], "d": 1.50, "e": null, "f": true}',
      '{ "a" : 1e2 , "s": "caf\\u00e9 \\"q\\"", "u": "\\ud83d\\ude00" }',
      '{"b": 1, "10": 2, "b": 3}', // integer-like keys first, the last of a repeated key
      '{"__proto__": {"x": 1}}',
      '[0.1, -0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 123456789012345680]',
      '12',
      'true',
      '[]',
      '{}',
    ])
      expect({ text, got: jsonValueText(text) }).toEqual({ text, got: JSON.stringify(JSON.parse(text)) });
  });
  it('a JSON string is its characters, JSON null is null, text that is no JSON is returned as it is', () => {
    expect(jsonValueText('"hello \\"you\\""')).toBe('hello "you"');
    expect(jsonValueText('"12345678901234567890"')).toBe('12345678901234567890');
    expect(jsonValueText('null')).toBeNull();
    expect(jsonValueText('{not json')).toBe('{not json');
  });
  it('a string of the input is never read as a number, whatever it holds', () => {
    expect(parseJsonExact('["\\u0000#number:12"]')).toEqual(['\u0000#number:12']);
    expect(parseJsonKeepingDigits('{"s": "\\u0000#number:12", "n": 12345678901234567890}')).toEqual({
      s: '\u0000#number:12',
      n: new JsonNumber('12345678901234567890'),
    });
  });
});
