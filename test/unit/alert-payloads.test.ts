import { AlertmanagerPayload, fingerprintOf, fromAlertmanager, fromGeneric, GenericPayload } from '../../src/alerts/payloads.js';
import { confidenceOf, remediationKey } from '../../src/store/patterns.js';
import { alertmanagerFixture, describeWithSharedFixtures } from '../support/alert-fixtures.js';

describeWithSharedFixtures('alert payloads (Alertmanager fixtures from ../shared)', () => {
  it('when Alertmanager sends the zero time as endsAt, then the alert has no end', () => {
    const batch = fromAlertmanager(AlertmanagerPayload.parse(alertmanagerFixture('firing')));
    expect(batch.alerts).toEqual([
      expect.objectContaining({ fingerprint: '93768e01d5895dcd', status: 'firing', endsAt: null, startsAt: new Date('2026-11-24T19:46:50.680Z') }),
    ]);
    const resolved = fromAlertmanager(AlertmanagerPayload.parse(alertmanagerFixture('resolved')));
    expect(resolved.alerts[0]!.endsAt).toEqual(new Date('2026-11-24T19:46:54.688Z'));
  });

  it('when a notification was truncated, then the count of left-out alerts is kept', () => {
    const batch = fromAlertmanager(AlertmanagerPayload.parse(alertmanagerFixture('firing-grouped-truncated')));
    expect(batch.truncatedAlerts).toBe(1);
    expect(batch.group).toMatchObject({ truncatedAlerts: 1, groupLabels: { alertname: 'HighErrorRate', service: 'checkout' } });
  });

  it('when timestamps carry nanoseconds and offsets, then they parse to the same instant', () => {
    const payload = alertmanagerFixture('firing');
    payload.alerts[0]!.startsAt = '2026-11-24T20:46:50.680123456+01:00';
    expect(fromAlertmanager(AlertmanagerPayload.parse(payload)).alerts[0]!.startsAt).toEqual(new Date('2026-11-24T19:46:50.680Z'));
  });

  it('when a source sends no fingerprint, then the same labels in any order give the same one', () => {
    expect(fingerprintOf({ a: '1', b: '2' })).toBe(fingerprintOf({ b: '2', a: '1' }));
    expect(fingerprintOf({ a: '1', b: '2' })).not.toBe(fingerprintOf({ a: '1', b: '3' }));
    const batch = fromGeneric(GenericPayload.parse({ status: 'firing', labels: { alertname: 'X' } }));
    expect(batch.alerts[0]).toMatchObject({ fingerprint: fingerprintOf({ alertname: 'X' }), startsAt: null });
  });
});

describe('pattern confidence', () => {
  it('when outcomes accumulate, then the confidence is the Beta(1, 1) posterior mean and says so', () => {
    expect(confidenceOf(0, 0)).toMatchObject({ value: 0.5, formula: '(1 + 0) / (1 + 0 + 1 + 0) = 0.500' });
    expect(confidenceOf(9, 0).value).toBeCloseTo(10 / 11);
    expect(confidenceOf(8, 0).value).toBeLessThanOrEqual(0.9);
    expect(confidenceOf(10, 1).value).toBeLessThan(confidenceOf(10, 0).value);
  });

  it('when two fixes differ only in parameter order, then they are the same fix', () => {
    expect(remediationKey({ topic: 't', params: { a: 1, b: { c: 2, d: 3 } } })).toBe(remediationKey({ topic: 't', params: { b: { d: 3, c: 2 }, a: 1 } }));
    expect(remediationKey({ topic: 't', params: { a: 1 } })).not.toBe(remediationKey({ topic: 't', params: { a: 2 } }));
  });
});
