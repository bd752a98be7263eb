import { ConfigurationError } from '../errors';

/**
 * The HubSpot door's settings (`HUBSPOT_AUTH`, `HUBSPOT_API_KEY_IN`, `HUBSPOT_API_KEY_NAME`,
 * `HUBSPOT_PROPERTY_MAP`), read by the one config loader: apart from the door itself, so that
 * loading the configuration, which every function does, bundles nothing of the door.
 */

/** The person fields a HubSpot contact property can fill (`HUBSPOT_PROPERTY_MAP` keys). */
export const HUBSPOT_MAPPED_FIELDS = [
  'first_name',
  'last_name',
  'email',
  'organization_name',
  'website_url',
  'title',
  'linkedin_url',
  'direct_phone',
  'corporate_phone',
  'mobile_phone',
  'home_phone',
  'other_phone',
  'present_raw_address',
  'hubspot_id',
] as const;
export type HubSpotMappedField = (typeof HUBSPOT_MAPPED_FIELDS)[number];

/**
 * HubSpot's standard contact properties (internal names) for each field, tried in order; the first
 * with a value wins. `present_raw_address` joins every part that has one. In the customised body
 * the keys are the user's own: these are the names the README tells them to use. `hubspot_id`
 * also comes from the legacy body's `canonical-vid` / `vid`.
 */
export const DEFAULT_HUBSPOT_PROPERTIES: Readonly<Record<HubSpotMappedField, readonly string[]>> = {
  first_name: ['firstname'],
  last_name: ['lastname'],
  email: ['email'],
  organization_name: ['company'],
  website_url: ['website'],
  title: ['jobtitle'],
  linkedin_url: ['hs_linkedin_url', 'linkedin_url'],
  direct_phone: ['phone'],
  corporate_phone: [],
  mobile_phone: ['mobilephone'],
  home_phone: [],
  other_phone: [],
  present_raw_address: ['address', 'city', 'state', 'zip', 'country'],
  hubspot_id: ['hs_object_id', 'hubspot_id', 'vid', 'objectId'],
};

export interface HubSpotSettings {
  /** `signature`: HubSpot's v3 request signature (the app's client secret); `api_key`: a shared key. */
  auth: 'signature' | 'api_key';
  /** Where the API key travels, and under which name (a header name is lower case). */
  apiKeyIn: 'header' | 'query';
  apiKeyName: string;
  /** The HubSpot property names read for each field (defaults, overridden by `HUBSPOT_PROPERTY_MAP`). */
  properties: Readonly<Record<HubSpotMappedField, readonly string[]>>;
}

type Env = Record<string, string | undefined>;

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name]?.trim() || fallback;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigurationError(`${name} must be one of ${values.join(', ')}, not "${raw}"`);
  }
  return raw as T;
}

/**
 * `HUBSPOT_PROPERTY_MAP`: a JSON object from person field to the HubSpot property name (or list of
 * names, tried in order) holding it, e.g. `{"mobile_phone": ["hs_whatsapp_phone_number",
 * "mobilephone"], "linkedin_url": "linkedin_profile"}`. A field it names replaces the default
 * list; `[]` stops reading a field. Errors name the variable and the field at fault.
 */
function propertyMap(env: Env, name: string): HubSpotSettings['properties'] {
  const raw = env[name]?.trim();
  if (!raw) return DEFAULT_HUBSPOT_PROPERTIES;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`${name} must be a JSON object of field → HubSpot property name(s)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(`${name} must be a JSON object of field → HubSpot property name(s)`);
  }
  const properties: Record<string, readonly string[]> = { ...DEFAULT_HUBSPOT_PROPERTIES };
  for (const [field, names] of Object.entries(parsed)) {
    if (!(HUBSPOT_MAPPED_FIELDS as readonly string[]).includes(field)) {
      throw new ConfigurationError(
        `${name}.${field}: not a field HubSpot can fill (one of ${HUBSPOT_MAPPED_FIELDS.join(', ')})`,
      );
    }
    const list: unknown[] = Array.isArray(names) ? names : [names];
    if (!list.every((entry) => typeof entry === 'string' && entry.trim() !== '' && entry.length <= 200)) {
      throw new ConfigurationError(`${name}.${field}: must be a property name or a list of them`);
    }
    properties[field] = (list as string[]).map((entry) => entry.trim());
  }
  return properties as HubSpotSettings['properties'];
}

/** Reads the HubSpot door's settings; throws ConfigurationError naming the variable at fault. */
export function hubSpotSettings(env: Env): HubSpotSettings {
  const apiKeyName = env.HUBSPOT_API_KEY_NAME?.trim() || 'x-hubspot-key';
  if (!/^[A-Za-z0-9_.~-]{1,100}$/.test(apiKeyName)) {
    throw new ConfigurationError(
      `HUBSPOT_API_KEY_NAME must be a header or query parameter name, not "${apiKeyName}"`,
    );
  }
  const apiKeyIn = oneOf(env, 'HUBSPOT_API_KEY_IN', ['header', 'query'], 'header');
  return {
    auth: oneOf(env, 'HUBSPOT_AUTH', ['signature', 'api_key'], 'signature'),
    apiKeyIn,
    apiKeyName: apiKeyIn === 'header' ? apiKeyName.toLowerCase() : apiKeyName,
    properties: propertyMap(env, 'HUBSPOT_PROPERTY_MAP'),
  };
}
