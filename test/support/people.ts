/**
 * The people the tests send, in the input shape of the webhook and the on-demand API. All
 * fictional: `.example` domains and 555 numbers. One record per person; a test that needs a variant
 * spreads it (`{ ...EMILY, email: ... }`) and says why.
 */

/** The seed's example: Mark Twain of Great American Writers Co. His email identifies him. */
export const MARK_TWAIN = {
  first_name: 'Mark',
  last_name: 'Twain',
  email: 'mark.twain@greatamericanwriters.example',
  organization_name: 'Great American Writers Co.',
  website_url: 'https://greatamericanwriters.example',
  title: 'Author',
  direct_phone: '555-123-4567',
  mobile_phone: '555-765-4321',
};

/** Without email: name and company identify her. */
export const EMILY = {
  first_name: 'Emily',
  last_name: 'Dickinson',
  organization_name: 'Amherst Poets',
  mobile_phone: '555-010-9999',
};
/** What `POST /conversions/lookup` finds her by. */
export const EMILY_LOOKUP = {
  first_name: 'Emily',
  last_name: 'Dickinson',
  organization_name: 'Amherst Poets',
};

/** An email and a name, nothing else. */
export const WALT = { email: 'walt.whitman@leaves.example', first_name: 'Walt', last_name: 'Whitman' };

/** Without email: name and company identify him. */
export const HERMAN = {
  first_name: 'Herman',
  last_name: 'Melville',
  organization_name: 'Pequod Whalers',
  mobile_phone: '555-010-1851',
};
export const HERMAN_LOOKUP = {
  first_name: 'Herman',
  last_name: 'Melville',
  organization_name: 'Pequod Whalers',
};

/** Without email (name and company identify him), with a home phone. */
export const EDGAR = {
  first_name: 'Edgar',
  last_name: 'Poe',
  organization_name: 'Raven Press',
  home_phone: '555 567 8901',
};
export const EDGAR_LOOKUP = { first_name: 'Edgar', last_name: 'Poe', organization_name: 'Raven Press' };

/** An email and a corporate phone. */
export const LOUISA = {
  first_name: 'Louisa',
  last_name: 'Alcott',
  email: 'louisa.alcott@littlewomen.example',
  corporate_phone: '555-678-9012',
};
