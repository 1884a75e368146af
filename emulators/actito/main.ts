/** Runs the Actito emulator alone: `npm run emulator:actito` (port from ACTITO_EMULATOR_PORT, default 8788). */
import { startActitoEmulator } from './server';

async function main(): Promise<void> {
  const port = Number(process.env.ACTITO_EMULATOR_PORT ?? 8788);
  const emu = await startActitoEmulator({ port, host: process.env.ACTITO_EMULATOR_HOST ?? '127.0.0.1' });
  console.log(`Actito emulator listening on ${emu.url}`);
  console.log(`  entity:  ${emu.entity}`);
  console.log(`  API key: ${emu.apiKey}   (GET ${emu.url}/auth/token with header "Authorization: ${emu.apiKey}")`);
  console.log(`  admin:   ${emu.url}/__admin/requests, /__admin/faults, /__admin/tables`);
  const stop = (): void => {
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
