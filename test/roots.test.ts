import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../lib/config';
import { getBulkConversionRoot } from '../lib/roots/bulk-conversion';
import { getConversionRoot } from '../lib/roots/conversion';
import { getEnrichmentRoot } from '../lib/roots/enrichment';
import { getLedgerReaderRoot } from '../lib/roots/ledger-reader';
import { getPhoneRevealRoot } from '../lib/roots/phone-reveal';
import { getQueuedSweepRoot } from '../lib/roots/queued-sweep';
import { compositionRoot } from '../lib/roots/shared/composition-root';
import { withSupportedPhoneCountry } from '../lib/roots/shared/phone-country';
import { getVerificationRoot } from '../lib/roots/verification';
import { getVerificationFailureRoot } from '../lib/roots/verification-failure';
import { getVerificationSweepRoot } from '../lib/roots/verification-sweep';
import { getServices, resetServices } from '../lib/services';

const base = { LEDGER_TABLE: 'ledger-test' };

describe('Function: compositionRoot (lib/roots/)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    resetServices();
  });

  it('builds once per container from process.env, and again after resetServices()', () => {
    // Prepare
    vi.stubEnv('LEDGER_TABLE', 'ledger-first');
    const build = vi.fn((config: { ledgerTable: string }) => ({ table: config.ledgerTable }));
    const getRoot = compositionRoot(build);

    // Act
    const first = getRoot();
    const again = getRoot();
    vi.stubEnv('LEDGER_TABLE', 'ledger-second');
    resetServices();
    const rebuilt = getRoot();

    // Assess
    expect(again).toBe(first);
    expect(first).toEqual({ table: 'ledger-first' });
    expect(rebuilt).toEqual({ table: 'ledger-second' });
    expect(build).toHaveBeenCalledTimes(2);
  });

  it('keeps nothing from a build that failed, so the next invocation tries again', () => {
    // Prepare: the first invocation meets an environment without LEDGER_TABLE
    vi.stubEnv('LEDGER_TABLE', '');
    const getRoot = compositionRoot((config) => ({ table: config.ledgerTable }));

    // Act & Assess
    expect(() => getRoot()).toThrow('LEDGER_TABLE must be set');
    vi.stubEnv('LEDGER_TABLE', 'ledger-fixed');
    expect(getRoot()).toEqual({ table: 'ledger-fixed' });
  });

  it('builds every root of lib/roots/ and the full services from the same environment', () => {
    // Prepare
    vi.stubEnv('LEDGER_TABLE', 'ledger-test');

    // Act
    const roots = {
      ledgerReader: getLedgerReaderRoot(),
      conversion: getConversionRoot(),
      enrichment: getEnrichmentRoot(),
      phoneReveal: getPhoneRevealRoot(),
      verification: getVerificationRoot(),
      verificationFailure: getVerificationFailureRoot(),
      verificationSweep: getVerificationSweepRoot(),
      bulkConversion: getBulkConversionRoot(),
      queuedSweep: getQueuedSweepRoot(),
    };

    // Assess: each hands out what its functions call, and only that
    expect(Object.keys(roots.ledgerReader).sort()).toEqual(['config', 'ledger']);
    expect(Object.keys(roots.conversion).sort()).toEqual(['config', 'intake', 'webhookDeliveries']);
    expect(Object.keys(roots.bulkConversion)).toEqual(['bulkConversion']);
    expect(Object.keys(roots.queuedSweep)).toEqual(['queuedSweep']);
    expect(Object.keys(roots.enrichment).sort()).toEqual(['config', 'enrichment']);
    expect(Object.keys(roots.phoneReveal).sort()).toEqual(['config', 'phones']);
    expect(Object.keys(roots.verification)).toEqual(['verification']);
    expect(Object.keys(roots.verificationFailure)).toEqual(['failures']);
    expect(Object.keys(roots.verificationSweep)).toEqual(['verificationSweep']);
    expect(Object.keys(getServices()).sort()).toEqual([
      'bulkConversion',
      'config',
      'conversion',
      'enrichment',
      'intake',
      'ledger',
      'queuedSweep',
      'verification',
      'verificationFailures',
      'verificationSweep',
      'webhookDeliveries',
    ]);
  });

  it('the phone functions refuse to convert or start executions (only enrichPerson does)', async () => {
    // Prepare: a person Apollo is paid for would be converted next, which these functions never do
    vi.stubEnv('LEDGER_TABLE', 'ledger-test');
    const { phones } = getPhoneRevealRoot();
    const enrichment = phones as unknown as {
      deps: { conversion: { convert(): Promise<unknown> }; phoneReveals: { start(): Promise<void> } };
    };

    // Act & Assess
    await expect(enrichment.deps.conversion.convert()).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: 'this function only applies phones: enrichPerson enriches',
    });
    await expect(enrichment.deps.phoneReveals.start()).rejects.toMatchObject({ name: 'ConfigurationError' });
  });
});

describe('DEFAULT_PHONE_COUNTRY: checked against the metadata where phones are parsed', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    resetServices();
  });

  it('loadConfig checks the shape only, so functions that parse no phone do not bundle the metadata', () => {
    // Act & Assess
    expect(loadConfig({ ...base, DEFAULT_PHONE_COUNTRY: 'de' }).defaultPhoneCountry).toBe('DE');
    expect(loadConfig({ ...base, DEFAULT_PHONE_COUNTRY: 'XX' }).defaultPhoneCountry).toBe('XX');
    expect(() => loadConfig({ ...base, DEFAULT_PHONE_COUNTRY: 'USA' })).toThrow(
      'DEFAULT_PHONE_COUNTRY must be an ISO 3166 country code, not "USA"',
    );
  });

  it('withSupportedPhoneCountry refuses a code libphonenumber does not know, naming the variable', () => {
    // Prepare
    const unknown = loadConfig({ ...base, DEFAULT_PHONE_COUNTRY: 'XX' });
    const german = loadConfig({ ...base, DEFAULT_PHONE_COUNTRY: 'DE' });

    // Act & Assess
    expect(() => withSupportedPhoneCountry(unknown)).toThrow(
      'DEFAULT_PHONE_COUNTRY must be an ISO 3166 country code, not "XX"',
    );
    expect(withSupportedPhoneCountry(german)).toBe(german);
  });

  it('every root whose functions parse phones refuses an unknown code; the others build', () => {
    // Prepare
    vi.stubEnv('LEDGER_TABLE', 'ledger-test');
    vi.stubEnv('DEFAULT_PHONE_COUNTRY', 'xx');
    const refusal = 'DEFAULT_PHONE_COUNTRY must be an ISO 3166 country code, not "XX"';

    // Act & Assess
    for (const getRoot of [
      getConversionRoot,
      getEnrichmentRoot,
      getPhoneRevealRoot,
      getVerificationRoot,
      getServices,
    ]) {
      expect(() => getRoot()).toThrow(refusal);
    }
    expect(getLedgerReaderRoot().config.defaultPhoneCountry).toBe('XX');
    expect(getVerificationFailureRoot().failures).toBeDefined();
    expect(getVerificationSweepRoot().verificationSweep).toBeDefined();
  });
});
