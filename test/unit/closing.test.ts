import { sentAgainWhileClosing } from '../../client';

test('a signal refused because the activation is continuing as new is sent again; other errors are not', async () => {
  let calls = 0;
  const closing = new Error('workflow operation can not be applied because workflow is closing');
  await expect(
    sentAgainWhileClosing(
      async () => {
        calls++;
        if (calls < 3) throw closing;
        return 'delivered';
      },
      6,
      1,
    ),
  ).resolves.toBe('delivered');
  expect(calls).toBe(3);

  calls = 0;
  await expect(
    sentAgainWhileClosing(
      async () => {
        calls++;
        throw new Error('workflow not found');
      },
      6,
      1,
    ),
  ).rejects.toThrow('workflow not found');
  expect(calls).toBe(1);

  calls = 0;
  await expect(
    sentAgainWhileClosing(
      async () => {
        calls++;
        throw closing;
      },
      3,
      1,
    ),
  ).rejects.toThrow('closing');
  expect(calls).toBe(3);
});
