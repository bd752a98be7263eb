import { isSupportedCountry } from 'libphonenumber-js';
import type { Config } from '../../config';
import { ConfigurationError } from '../../errors';

/**
 * Checks DEFAULT_PHONE_COUNTRY against libphonenumber's metadata. `loadConfig` checks only its
 * shape, so that functions that parse no phone number do not bundle the metadata; the roots of
 * those that do call this, so a country it does not know fails at the first invocation, naming
 * the variable, before any work is done.
 */
export function withSupportedPhoneCountry(config: Config): Config {
  const code: string = config.defaultPhoneCountry;
  if (!isSupportedCountry(code)) {
    throw new ConfigurationError(`DEFAULT_PHONE_COUNTRY must be an ISO 3166 country code, not "${code}"`);
  }
  return config;
}
