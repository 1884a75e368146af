/** SYNCLINE_METRICS_ADDRESS: unset exports nothing; a malformed one stops the worker with a message naming it. */
import { installTelemetry } from '../../worker';

test('no address, no metrics: the runtime is left alone', () => {
  expect(installTelemetry({})).toBeNull();
  expect(installTelemetry({ SYNCLINE_METRICS_ADDRESS: '  ' })).toBeNull();
});

test.each(['9464', 'http://0.0.0.0:9464', '0.0.0.0:port', 'host:9464/metrics'])('"%s" is refused before anything is installed', (address) => {
  expect(() => installTelemetry({ SYNCLINE_METRICS_ADDRESS: address })).toThrow(/SYNCLINE_METRICS_ADDRESS is ".*": write host:port, e\.g\. 0\.0\.0\.0:9464/);
});
