import { idChecksum, idProblem } from './ids';

describe('record Ids carried by the model', () => {
  it('computes the case-safe checksum', () => {
    // A worked example published with the algorithm: 0019000000B98de is 0019000000B98deAAB in 18 characters.
    expect(idChecksum('0019000000B98de')).toBe('AAB');
    // Upper case at positions 3 (first block) and 11 (third block): bits 8 and 2.
    expect(idChecksum('001A0000006Vm9r')).toBe('IAC');
    expect(idChecksum('003000000000000')).toBe('AAA');
    expect(idChecksum('ABCDEABCDEABCDE')).toBe('555');
  });
  it('accepts 15 and 18 characters of the right object, checksum in any case', () => {
    expect(idProblem('001A0000006Vm9r', 'Account', '001')).toBeNull();
    expect(idProblem('001A0000006Vm9rIAC', 'Account', '001')).toBeNull();
    expect(idProblem('001A0000006Vm9riac', 'Account', '001')).toBeNull();
  });
  it('refuses malformed Ids, a wrong checksum and an Id of another object', () => {
    expect(idProblem('001A0000006Vm9', 'Account', '001')).toMatchObject({
      code: 'MALFORMED_ID',
      message: expect.stringMatching(/15 or 18/),
    });
    expect(idProblem('001A0000006Vm9r-AC', 'Account', '001')?.code).toBe('MALFORMED_ID');
    expect(idProblem('001A0000006Vm9rAAA', 'Account', '001')?.message).toMatch(/checksum.*expected IAC/);
    expect(idProblem('001A0000006Vm9rIAC', 'Contact', '003')?.message).toMatch(/Contact Ids start with "003", this one with "001"/);
  });
});
