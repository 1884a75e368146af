/**
 * The SDK Runtime's options from the environment: SYNCLINE_METRICS_ADDRESS unset exports nothing, a
 * malformed one stops the worker with a message naming it; logs always go through syncline's logger.
 */
import { runtimeOptions, TelemetryConfigError } from '../../worker';

test("no address, no metrics; the logs and the SDK core's forwarded warnings go through the logger", () => {
  for (const env of [{}, { SYNCLINE_METRICS_ADDRESS: '  ' }]) {
    const { options, metrics } = runtimeOptions(env);
    expect(metrics).toBeNull();
    expect(options.telemetryOptions?.metrics).toBeUndefined();
    expect(options.logger).toBeDefined();
    expect(options.telemetryOptions?.logging).toMatchObject({ forward: {} });
  }
  expect(runtimeOptions({ SYNCLINE_METRICS_ADDRESS: '0.0.0.0:9464' }).options.telemetryOptions?.metrics).toMatchObject({
    prometheus: { bindAddress: '0.0.0.0:9464' },
  });
});

test.each(['9464', 'http://0.0.0.0:9464', '0.0.0.0:port', 'host:9464/metrics'])(
  '"%s" is refused before anything is installed',
  (address) => {
    expect(() => runtimeOptions({ SYNCLINE_METRICS_ADDRESS: address })).toThrow(TelemetryConfigError);
    expect(() => runtimeOptions({ SYNCLINE_METRICS_ADDRESS: address })).toThrow(
      /SYNCLINE_METRICS_ADDRESS is ".*": write host:port, e\.g\. 0\.0\.0\.0:9464/,
    );
  },
);
