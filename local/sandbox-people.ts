import type { SandboxPersonSeed } from './apollo-sandbox';

/**
 * Fictional people in the local Apollo sandbox's directory, so `POST /enrichments` has someone to
 * find when `npm start` runs without a real Apollo. No real person's data.
 */
export const SANDBOX_PEOPLE: SandboxPersonSeed[] = [
  {
    first_name: 'Ada',
    last_name: 'Lovelace',
    email: 'ada.lovelace@analyticalengines.example',
    title: 'Chief Mathematician',
    organization_name: 'Analytical Engines Ltd',
    website_url: 'https://analyticalengines.example',
    linkedin_url: 'https://www.linkedin.com/in/ada-lovelace-example',
    mobile_phones: [{ raw_number: '+1 555 010 1815' }],
  },
  {
    first_name: 'Charles',
    last_name: 'Babbage',
    email: 'charles.babbage@analyticalengines.example',
    title: 'Founder',
    organization_name: 'Analytical Engines Ltd',
    website_url: 'https://analyticalengines.example',
    mobile_phones: [{ raw_number: '+1 555 010 1791' }],
    phone_numbers: [{ raw_number: '+1 555 010 1792', type_cd: 'work_direct' }],
  },
];
