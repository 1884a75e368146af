import { onFreePorts, PORT_ATTEMPTS, PortTakenError } from '../../scripts/services/ports';

/** Ports handed out in order, as freePort would. */
function picker(ports: number[]): () => Promise<number> {
  const left = [...ports];
  return async () => {
    const p = left.shift();
    if (p === undefined) throw new Error('no port left');
    return p;
  };
}

test('a start that fails because a port was taken meanwhile is made again on fresh ports', async () => {
  const tried: number[][] = [];
  const started = await onFreePorts(2, picker([1001, 1002, 1003, 1004]), async (ports) => {
    tried.push(ports);
    if (ports.includes(1002)) throw new PortTakenError('port 1002 is already in use');
    return `up on ${ports.join(',')}`;
  });
  expect(started).toBe('up on 1003,1004');
  expect(tried).toEqual([
    [1001, 1002],
    [1003, 1004],
  ]);
});

test('any other failure is not retried', async () => {
  let starts = 0;
  await expect(
    onFreePorts(1, picker([1, 2]), async () => {
      starts++;
      throw new Error('initdb failed');
    }),
  ).rejects.toThrow('initdb failed');
  expect(starts).toBe(1);
});

test(`ports taken ${PORT_ATTEMPTS} times in a row are not a race: the last failure is thrown`, async () => {
  let starts = 0;
  const ports = Array.from({ length: 20 }, (_, i) => 2000 + i);
  await expect(
    onFreePorts(1, picker(ports), async ([p]) => {
      starts++;
      throw new PortTakenError(`port ${p} is already in use`);
    }),
  ).rejects.toThrow(`port ${2000 + PORT_ATTEMPTS - 1} is already in use`);
  expect(starts).toBe(PORT_ATTEMPTS);
});

test('a port handed out twice is not used for two of the ports of one start', async () => {
  const seen = await onFreePorts(2, picker([7, 7, 8]), async (ports) => ports);
  expect(seen).toEqual([7, 8]);
  await expect(onFreePorts(2, picker(Array(30).fill(9)), async (ports) => ports)).rejects.toThrow(/no 2 distinct free ports/);
});
