import { loadNodeConfig } from './node-config.files';
import { NodeConfigError } from './node-config';

// `node node-config.reader.js <configDir> <defaultPhasesDir> <defaultEtcdBackupDir>`: the
// configuration as one JSON line on standard output ({ok, config} or {ok: false, problems}).
// The daemon runs it when the files change, so that it never loads the YAML parser itself.
async function main(): Promise<void> {
  const [dir, phasesDir, etcdBackupDir] = process.argv.slice(2);
  if (!dir || !phasesDir || !etcdBackupDir) throw new Error('usage: node-config.reader <configDir> <defaultPhasesDir> <defaultEtcdBackupDir>');
  try {
    const config = await loadNodeConfig(dir, { phasesDir, etcdBackupDir });
    process.stdout.write(`${JSON.stringify({ ok: true, config })}\n`);
  } catch (err) {
    if (!(err instanceof NodeConfigError)) throw err;
    process.stdout.write(`${JSON.stringify({ ok: false, problems: err.problems })}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`node-config.reader: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

