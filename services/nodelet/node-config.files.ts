import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { errnoCode } from './atomic-file';
import { KEY_PATTERN, NodeConfigError, RESERVED_KEYS, RESERVED_PREFIX, validateSettings, type ConfigDefaults, type ConfigProblem, type NodeConfig, type Scalar, type Setting } from './node-config';

// The YAML side of the configuration: reading etc/pf9/nodelet/*.yaml. The daemon does not load
// it (the YAML parser costs it a sixth of its memory budget): it asks node-config.reader.ts.

const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads every `*.yaml` / `*.yml` in `dir` in sorted file-name order (later files win),
 * and validates the result. A bad file throws NodeConfigError naming the file, the key
 * and what was expected; the caller keeps running what it ran.
 */
export async function loadNodeConfig(dir: string, defaults: ConfigDefaults): Promise<NodeConfig> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    names = [];
  }
  const files = names.filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('.')).sort();
  const sources: Array<{ file: string; text: string }> = [];
  for (const name of files) {
    const file = join(dir, name);
    const stat = await fs.stat(file).catch(() => null);
    if (!stat || !stat.isFile()) continue;
    if (stat.size > MAX_FILE_BYTES) throw new NodeConfigError([{ file, key: '', expected: `a file of at most ${MAX_FILE_BYTES} bytes`, got: `${stat.size} bytes` }]);
    sources.push({ file, text: await fs.readFile(file, 'utf8') });
  }
  return parseNodeConfig(sources, defaults);
}

/** The same as loadNodeConfig, from texts already read (file names for messages). */
export function parseNodeConfig(sources: Array<{ file: string; text: string }>, defaults: ConfigDefaults): NodeConfig {
  const problems: ConfigProblem[] = [];
  const settings = new Map<string, Setting>();
  for (const { file, text } of sources) {
    for (const [key, value] of parseFile(file, text, problems)) settings.set(key, { value, file });
  }
  if (problems.length > 0) throw new NodeConfigError(problems);
  return validateSettings(settings, sources.map((s) => s.file), defaults);
}

function parseFile(file: string, text: string, problems: ConfigProblem[]): Array<[string, Scalar]> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // With prettyErrors the first line of each message ends "at line L, column C:".
    for (const error of doc.errors) problems.push({ file, key: '', expected: 'valid YAML', got: error.message.split('\n')[0].replace(/:$/, '') });
    return [];
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 16 });
  } catch (err) {
    problems.push({ file, key: '', expected: 'valid YAML', got: (err as Error).message });
    return [];
  }
  if (value === null || value === undefined) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ file, key: '', expected: 'a mapping of KEY: value at the top level', got: Array.isArray(value) ? 'a list' : typeof value });
    return [];
  }
  const out: Array<[string, Scalar]> = [];
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!KEY_PATTERN.test(key)) {
      problems.push({ file, key, expected: 'a key made of letters, digits and _ (an environment variable name)' });
      continue;
    }
    if (RESERVED_KEYS.has(key) || key.startsWith(RESERVED_PREFIX)) {
      problems.push({ file, key, expected: 'a key nodelet does not set itself (PATH, HOME, PF9_ROOT, NODELET_* and the VRRP password are its own)' });
      continue;
    }
    const scalar = raw === null ? '' : raw;
    if (typeof scalar !== 'string' && typeof scalar !== 'number' && typeof scalar !== 'boolean') {
      problems.push({ file, key, expected: 'a string, number or boolean', got: Array.isArray(scalar) ? 'a list' : typeof scalar });
      continue;
    }
    if (typeof scalar === 'number' && !Number.isFinite(scalar)) {
      problems.push({ file, key, expected: 'a finite number', got: String(scalar) });
      continue;
    }
    // eslint-disable-next-line no-control-regex
    if (typeof scalar === 'string' && /[\u0000-\u0008\u000a-\u001f\u007f]/.test(scalar)) {
      problems.push({ file, key, expected: 'a single line without control characters' });
      continue;
    }
    out.push([key, scalar]);
  }
  return out;
}

