import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa, createCrl } from '#pki';
import { CRL_REASON, crlRevocations, crlSignedBy, normalSerial } from './crl';

describe('crlSignedBy', () => {
  test("is true for a CRL of the CA's key only: not another CA's, not another key under the same name, not a tampered or broken one", async () => {
    const ca = await createCa({ commonName: 'plane CA' });
    const crl = await createCrl(ca, [{ serial: '0a1b2c3d', revokedAt: new Date() }]);
    assert.equal(crlSignedBy(crl, ca.certPem), true);
    assert.equal(crlSignedBy(await createCrl(ca, []), ca.certPem), true, 'an empty list');

    const sameName = await createCa({ commonName: 'plane CA' });
    assert.equal(crlSignedBy(crl, sameName.certPem), false, 'the same name, another key (pki init --force)');
    assert.equal(crlSignedBy(await createCrl(sameName, []), ca.certPem), false);

    const body = crl.split('\n').filter((line) => !line.startsWith('-----')).join('');
    const der = Buffer.from(body, 'base64');
    der[der.length - 80] ^= 0x01; // inside the list, before the signature
    const tampered = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
    assert.equal(crlSignedBy(tampered, ca.certPem), false, 'tampered');
    assert.equal(crlSignedBy('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n', ca.certPem), false, 'broken');
    assert.equal(crlSignedBy(ca.certPem, ca.certPem), false, 'not a CRL');
  });
});

describe('crlRevocations', () => {
  test('lists the serials of a CRL in one spelling, each with its reason, and none of an empty one', async () => {
    const ca = await createCa({ commonName: 'plane CA' });
    const crl = await createCrl(ca, [
      { serial: '0a1b2c3d', revokedAt: new Date(), reason: 'superseded' },
      { serial: '7f00000000000000000000000000ff01', revokedAt: new Date(), reason: 'cessationOfOperation' },
      { serial: '42', revokedAt: new Date() },
    ]);
    assert.deepEqual(
      [...crlRevocations(crl)].sort(),
      [
        ['42', undefined],
        ['7f00000000000000000000000000ff01', CRL_REASON.cessationOfOperation],
        ['a1b2c3d', CRL_REASON.superseded],
      ],
    );
    assert.deepEqual([...crlRevocations(await createCrl(ca, []))], []);
    assert.throws(() => crlRevocations(ca.certPem), /not a PEM CRL/);
  });

  test('normalSerial matches the way Node spells a certificate serial', () => {
    assert.equal(normalSerial('0A1B2C3D'), 'a1b2c3d');
    assert.equal(normalSerial('00'), '0');
  });
});
