import { resendPauseMs, ROW_RETRY_ATTEMPTS } from '../../activities/write';

test('re-send pauses double from 0.5 s, capped at 8 s, each jittered between half and all of it', () => {
  const full = Array.from({ length: 6 }, (_, i) => resendPauseMs(i + 1, 1));
  expect(full).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  expect(Array.from({ length: 6 }, (_, i) => resendPauseMs(i + 1, 0))).toEqual(full.map((ms) => ms / 2));
  // The pauses a chunk can take in one run stay far below the write activity's 1-minute heartbeat timeout each.
  expect(Array.from({ length: ROW_RETRY_ATTEMPTS - 1 }, (_, i) => resendPauseMs(i + 1, 1)).every((ms) => ms < 60_000)).toBe(true);
});
