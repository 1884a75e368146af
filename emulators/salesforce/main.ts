/** Runs the emulator standalone: `npm run emulator:salesforce` (port from SALESFORCE_EMULATOR_PORT, default 8787). */
import { DEMO_CREDENTIALS, startSalesforceEmulator } from './server';

async function main(): Promise<void> {
  const port = Number(process.env.SALESFORCE_EMULATOR_PORT ?? 8787);
  const emu = await startSalesforceEmulator({ port, host: process.env.SALESFORCE_EMULATOR_HOST });
  console.log(`Salesforce emulator listening on ${emu.url} (login URL and instance URL)`);
  console.log(`  client_credentials: client_id=${DEMO_CREDENTIALS.clientId} client_secret=${DEMO_CREDENTIALS.clientSecret}`);
  console.log(`  password grant:     username=${DEMO_CREDENTIALS.username} password=${DEMO_CREDENTIALS.password}`);
  console.log(`  admin:              ${emu.url}/__admin/requests, /__admin/faults, /__admin/records/Contact`);
  const stop = () => void emu.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
