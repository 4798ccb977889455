import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureManagementApi, type ManagementApiActions } from './broker-check';

/** A management API that answers from the `answerFrom`th look on; records what was done. */
function fakeActions(answerFrom: number, plugin: string | null = 'Enabling plugins on node rabbit@host:\nrabbitmq_management'): ManagementApiActions & { looks: number; enabled: number } {
  const fake = {
    looks: 0,
    enabled: 0,
    answers: async () => ++fake.looks >= answerFrom,
    enablePlugin: async () => {
      fake.enabled += 1;
      return plugin;
    },
    sleep: async () => undefined,
  };
  return fake;
}

describe('ensureManagementApi (the all-in-one runs with a broker user per host)', () => {
  test('an API that answers is used as it is', async () => {
    const actions = fakeActions(1);
    assert.equal(await ensureManagementApi('amqp://guest:guest@127.0.0.1:5672', () => undefined, actions), true);
    assert.equal(actions.enabled, 0);
  });

  test('on a broker on this machine, the plugin is enabled and the API waited for', async () => {
    const said: string[] = [];
    const actions = fakeActions(4);
    assert.equal(await ensureManagementApi('amqp://guest:guest@localhost:5672/v', (line) => said.push(line), actions), true);
    assert.equal(actions.enabled, 1);
    assert.match(said.join('\n'), /enabling it \(rabbitmq-plugins enable rabbitmq_management\)/);
  });

  test('a broker elsewhere is left as it is: the answer is no', async () => {
    const actions = fakeActions(Number.POSITIVE_INFINITY);
    assert.equal(await ensureManagementApi('amqp://guest:guest@rabbit.internal:5672', () => undefined, actions), false);
    assert.equal(actions.enabled, 0);
  });

  test('no rabbitmq-plugins here, or an API that never comes: no, and it says why', async () => {
    const said: string[] = [];
    assert.equal(await ensureManagementApi('amqp://127.0.0.1', (line) => said.push(line), fakeActions(Number.POSITIVE_INFINITY, null)), false);
    assert.match(said.at(-1) ?? '', /rabbitmq-plugins is not installed here/);
    assert.equal(await ensureManagementApi('amqp://127.0.0.1', (line) => said.push(line), fakeActions(Number.POSITIVE_INFINITY, 'Error: unable to perform an operation on node\n(exit 69)'), 2_000), false);
    assert.match(said.at(-1) ?? '', /still does not answer after 2 s; rabbitmq-plugins said: .*exit 69/);
  });
});
