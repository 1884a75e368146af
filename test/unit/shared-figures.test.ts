/**
 * The freshest-wins rule for a destination's usage figure shared across workers (docs/limits.md,
 * "Salesforce"): the later observation wins whatever its value. A lower fresher figure replaces a higher
 * older one (the org's rolling 24 h count dropped: keeping the highest waited an hour on a reset org); an
 * older figure never replaces a newer one.
 */
import { freshest } from '../../connectors/salesforce/quota';

describe('freshest', () => {
  const high = { used: 9_500, max: 10_000, observedAt: 1_000 };
  const lowLater = { used: 200, max: 10_000, observedAt: 2_000 };
  const highLater = { used: 9_600, max: 10_000, observedAt: 3_000 };

  test('a fresher lower figure replaces a higher older one (the reset case), in either order', () => {
    expect(freshest(high, lowLater)).toBe(lowLater);
    expect(freshest(lowLater, high)).toBe(lowLater);
  });

  test('an older figure never replaces a newer one, lower or higher', () => {
    expect(freshest(highLater, lowLater)).toBe(highLater);
    expect(freshest(lowLater, { ...high, used: 10 })).toBe(lowLater);
  });

  test('a missing figure gives the other one', () => {
    expect(freshest(null, high)).toBe(high);
    expect(freshest(high, null)).toBe(high);
    expect(freshest(null, null)).toBeNull();
  });
});
