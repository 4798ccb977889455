import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { buildRole, fileRole, heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

const run = promisify(execFile);

/** Debian's Python, which has python3-pika (the python3 first on PATH may be another). */
const DEBIAN_PYTHON = '/usr/bin/python3';

// Publishes one command with pika, as an outside program would, and prints the reply.
const PIKA_CLIENT = `
import json, sys, uuid, pika
url, kind, body = sys.argv[1], sys.argv[2], sys.argv[3]
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
reply = {}
def on_reply(_ch, _method, props, payload):
    reply['body'] = json.loads(payload)
    reply['correlation_id'] = props.correlation_id
    ch.stop_consuming()
ch.basic_consume('amq.rabbitmq.reply-to', on_reply, auto_ack=True)
cid = str(uuid.uuid4())
ch.basic_publish('pf9.api', kind, body.encode('utf-8'), pika.BasicProperties(
    content_type='application/json', type=kind, message_id=str(uuid.uuid4()), app_id='pika-test',
    reply_to='amq.rabbitmq.reply-to', correlation_id=cid, delivery_mode=2))
conn.call_later(10, ch.stop_consuming)
ch.start_consuming()
conn.close()
assert reply.get('correlation_id') == cid, 'no reply with our correlation id'
print(json.dumps(reply['body']))
`;
import { planeFetch } from '../support/operator-auth';

describe('clients we did not write: pika, amqp-publish, curl', () => {
  let rs: RunningRolestore;
  let raw: RawAmqp;
  let script: string;

  before(async () => {
    try {
      await run(DEBIAN_PYTHON, ['-c', 'import pika']);
    } catch {
      throw new Error(`python3-pika is not installed for ${DEBIAN_PYTHON}: apt-get install python3-pika (.ci/run does)`);
    }
    try {
      await run('amqp-publish', ['--help']);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('amqp-publish is not installed: apt-get install amqp-tools (.ci/run does)');
    }
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    const dataDir = await tempDir('foreign');
    script = join(dataDir, 'pika_client.py');
    await writeFile(script, PIKA_CLIENT);
    // Hosts here are raw clients on the broker user they share with the plane (insecure).
    rs = await startRolestore(
      { AMQP_URL: brokerUrl(), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
      { waitForBrokerMs: 15_000 },
    );
  });

  after(async () => {
    await rs?.close();
    await raw?.close();
  });

  /** The header an operator gives curl: `-H "Authorization: Bearer $(cat .data/plane/admin.token)"`. */
  function bearer(): string {
    assert.ok(rs.adminToken, 'the role store wrote its first admin token');
    return `Authorization: Bearer ${rs.adminToken}`;
  }

  async function knownHost(): Promise<string> {
    const hostId = newHostId();
    await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat' });
    await waitFor('the host', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).ok);
    return hostId;
  }

  test('amqp-publish with nothing but a routing key and a JSON body authorizes a host', async () => {
    const hostId = await knownHost();
    await run('amqp-publish', ['--url', brokerUrl(), '-e', 'pf9.api', '-r', 'host.authorize', '-C', 'application/json', '-b', JSON.stringify({ hostId })]);
    await waitFor('the host to be authorized', async () => ((await (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).json()) as { state: string }).state === 'authorized');
  });

  test('curl uploads a package and assigns it; pika assigns over pf9.api and gets the reply', async () => {
    const hostId = await knownHost();
    await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/authorize`, { method: 'POST' });
    const name = `curl-${randomUUID().slice(0, 8)}`;
    const dir = await tempDir('curl');
    const pkg = join(dir, 'role.tar.gz');
    await writeFile(pkg, await buildRole(fileRole(name, '1.0.0')));
    const upload = await run('curl', ['-sS', '-w', '\\n%{http_code}', '-H', bearer(), '-H', 'content-type: application/gzip', '--data-binary', `@${pkg}`, `${rs.url}/v1/roles`]);
    const [uploadBody, uploadStatus] = upload.stdout.trim().split('\n');
    assert.equal(uploadStatus, '201');
    assert.equal((JSON.parse(uploadBody ?? '{}') as { name: string }).name, name);
    const assign = await run('curl', ['-sS', '-X', 'PUT', '-H', bearer(), '-H', 'content-type: application/json', '-d', '{"config":{"a":1}}', `${rs.url}/v1/hosts/${hostId}/roles/${name}`]);
    assert.deepEqual(JSON.parse(assign.stdout), { hostId, role: name, version: '1.0.0', generation: 2 });
    const bad = await run('curl', ['-sS', '-w', '\\n%{http_code}', '-X', 'PUT', '-H', bearer(), '-H', 'content-type: application/json', '-d', '{"config":', `${rs.url}/v1/hosts/${hostId}/roles/${name}`]);
    const [badBody, badStatus] = bad.stdout.trim().split('\n');
    assert.equal(badStatus, '400');
    assert.equal((JSON.parse(badBody ?? '{}') as { error: { code: string } }).error.code, 'VALIDATION_FAILED');

    const { stdout } = await run(DEBIAN_PYTHON, [script, brokerUrl(), 'role.assign', JSON.stringify({ hostId, role: name, config: { a: 2 } })]);
    assert.deepEqual(JSON.parse(stdout), { ok: true, result: { hostId, role: name, version: '1.0.0', generation: 3 } });
    const { stdout: refused } = await run(DEBIAN_PYTHON, [script, brokerUrl(), 'role.assign', JSON.stringify({ hostId: newHostId(), role: name })]);
    assert.equal((JSON.parse(refused) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  test('curl without a token, with a form body, or by another Host name gets nothing', async () => {
    const hostId = await knownHost();
    const status = async (args: string[]): Promise<{ code: string; status: string }> => {
      const out = await run('curl', ['-sS', '-w', '\\n%{http_code}', ...args]);
      const [body, code] = out.stdout.trim().split('\n');
      return { status: code ?? '', code: (JSON.parse(body ?? '{}') as { error?: { code: string } }).error?.code ?? '' };
    };
    assert.deepEqual(await status(['-X', 'POST', `${rs.url}/v1/hosts/${hostId}/authorize`]), { status: '401', code: 'UNAUTHENTICATED' });
    assert.deepEqual(await status(['-H', 'Authorization: Bearer not-a-token', `${rs.url}/v1/hosts`]), { status: '401', code: 'UNAUTHENTICATED' });
    assert.deepEqual(await status(['-H', bearer(), '-d', 'config=1', '-X', 'PUT', `${rs.url}/v1/hosts/${hostId}/roles/x`]), { status: '415', code: 'VALIDATION_FAILED' });
    assert.deepEqual(await status(['-H', bearer(), '-H', 'Host: attacker.example', `${rs.url}/v1/hosts`]), { status: '421', code: 'FORBIDDEN' });
    assert.equal((await status([`${rs.url}/healthz`])).status, '200', 'health needs no token');
    const host = (await (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).json()) as { state: string };
    assert.equal(host.state, 'unauthorized');
  });
});
