/** common/json-exact.ts `jsonValueText`: Postgres's text of a json(b) value as a text field receives it. */
import { jsonValueText, parseJsonExact, parseJsonKeepingDigits, JsonNumber, stringifyExactIndented } from '../../common/json-exact';

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

test('stringifyExactIndented: JSON.stringify(value, null, 2) with every JsonNumber written as its literal (syncline … --json) (rev19)', () => {
  const v = parseJsonKeepingDigits('{"a":[12345678901234567890,{"b":-0.1000000000000000055511151231257827}],"d":1.5}');
  const data = { v, at: new Date(0), s: '\u0000#literal:x:1', none: undefined };
  expect(JSON.parse(stringifyExactIndented(data, 2))).toEqual(JSON.parse(JSON.stringify(data, null, 2)));
  const text = stringifyExactIndented(data, 2);
  expect(text).toContain('12345678901234567890,');
  expect(text).toContain('"b": -0.1000000000000000055511151231257827');
  expect(text).toBe(
    JSON.stringify(data, null, 2)
      .replace('12345678901234567000', '12345678901234567890')
      .replace('-0.1,', '-0.1000000000000000055511151231257827,')
      .replace('-0.1\n', '-0.1000000000000000055511151231257827\n'),
  );
});
