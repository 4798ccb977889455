import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { provisionService, type ProvisionProbes, type ServiceNeed } from './service-provisioning';

/** A broker need whose container start is recorded, and fails when told to. */
function broker(overrides: Partial<ServiceNeed> & { containerFails?: string } = {}): ServiceNeed & { started: number } {
  const need = {
    name: 'RabbitMQ',
    variable: 'AMQP_URL',
    fromEnv: undefined,
    defaultPort: 5672,
    localUrl: 'amqp://guest:guest@127.0.0.1:5672',
    remedy: 'Set AMQP_URL or run a broker.',
    started: 0,
    async startContainer() {
      need.started += 1;
      if (overrides.containerFails !== undefined) throw new Error(overrides.containerFails);
      return { url: 'amqp://guest:guest@127.0.0.1:32768' };
    },
    ...overrides,
  };
  return need;
}

function probes(answering: string[], docker: boolean): ProvisionProbes & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    reachable: async (host, port) => (asked.push(`${host}:${port}`), answering.includes(`${host}:${port}`)),
    dockerRuns: () => docker,
  };
}

describe('npm test: which broker and database the tests use', () => {
  it('the variable, when set, wins over everything, and must answer', async () => {
    const need = broker({ fromEnv: 'amqp://guest:guest@rabbit.internal:5673/hp' });
    assert.deepEqual(await provisionService(need, probes(['rabbit.internal:5673', '127.0.0.1:5672'], true)), { url: 'amqp://guest:guest@rabbit.internal:5673/hp' });
    assert.equal(need.started, 0);
    await assert.rejects(provisionService(need, probes([], true)), /^Error: AMQP_URL is set, but nothing answers at rabbit\.internal:5673$/);
  });

  it('what answers locally comes before Testcontainers, even where Docker runs', async () => {
    const need = broker();
    assert.deepEqual(await provisionService(need, probes(['127.0.0.1:5672'], true)), { url: 'amqp://guest:guest@127.0.0.1:5672' });
    assert.equal(need.started, 0, 'no container started');
  });

  it('Testcontainers when nothing answers locally and Docker runs', async () => {
    const need = broker();
    assert.deepEqual(await provisionService(need, probes([], true)), { url: 'amqp://guest:guest@127.0.0.1:32768' });
    assert.equal(need.started, 1);
  });

  it('a Docker that answers but cannot start containers (no default bridge network) fails with the reason and the remedy', async () => {
    const need = broker({ containerFails: 'network bridge not found' });
    await assert.rejects(provisionService(need, probes([], true)), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(
        err.message,
        'no RabbitMQ: AMQP_URL is not set, nothing answers on 127.0.0.1:5672, and Docker answers but Testcontainers could not start one there (network bridge not found). Set AMQP_URL or run a broker.',
      );
      return true;
    });
  });

  it('with nothing at all, it says what is missing and what to do', async () => {
    await assert.rejects(
      provisionService(broker(), probes([], false)),
      /^Error: no RabbitMQ: AMQP_URL is not set, nothing answers on 127\.0\.0\.1:5672, and Docker is not running \(so Testcontainers cannot start one\)\. Set AMQP_URL or run a broker\.$/,
    );
  });
});
