/**
 * The monitoring kit stays in step with the metrics: the Grafana dashboard is valid JSON with a panel on
 * every syncline metric, and the monitoring profile scrapes the port the compose worker exports on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { METRICS } from '../../common/metrics';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

test("the dashboard has a panel on every syncline metric, on the dashboard's data source", () => {
  const dashboard = JSON.parse(read('docs/monitoring/grafana-dashboard.json')) as {
    panels: Array<{ type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }>;
  };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');
  for (const name of Object.values(METRICS)) {
    expect({ name, onPanels: panels.some((p) => p.targets?.some((t) => t.expr.includes(name))) }).toEqual({ name, onPanels: true });
  }
  for (const p of panels) expect({ title: p.title, uid: p.datasource?.uid }).toEqual({ title: p.title, uid: '${datasource}' });
});

test('the monitoring profile scrapes the worker where it exports, and provisions the dashboard', () => {
  const compose = read('docker-compose.yml');
  const port = /SYNCLINE_METRICS_ADDRESS: \$\{SYNCLINE_METRICS_ADDRESS-0\.0\.0\.0:(\d+)\}/.exec(compose)?.[1];
  expect(port).toBeDefined();
  expect(read('docs/monitoring/prometheus.yml')).toContain(`targets: ["worker:${port}"]`);
  expect(compose).toContain('./docs/monitoring/grafana-dashboard.json:/etc/grafana/dashboards/syncline.json:ro');
  expect(read('docs/monitoring/grafana/provisioning/dashboards/syncline.yml')).toContain('path: /etc/grafana/dashboards');
});
