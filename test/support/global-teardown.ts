export default async function globalTeardown(): Promise<void> {
  const { stopTestServices } = await import('./services');
  await stopTestServices();
}
