/** The sandbox's one Apollo team: its contact stages and its only user. */

/**
 * Contact stages the sandbox team knows. Apollo's stage ids are per team; any other
 * `contact_stage_id` is answered with 422, as Apollo does for an id it does not know.
 */
export const SANDBOX_CONTACT_STAGES = [
  { id: '6095a710bd01d100a506d4ae', name: 'New' },
  { id: '6095a710bd01d100a506d4af', name: 'Cold' },
  { id: '6095a710bd01d100a506d4b0', name: 'Approaching' },
  { id: '6095a710bd01d100a506d4b1', name: 'Replied' },
  { id: '6095a710bd01d100a506d4b2', name: 'Interested' },
  { id: '6095a710bd01d100a506d4b3', name: 'Not Interested' },
  { id: '6095a710bd01d100a506d4b4', name: 'Unresponsive' },
  { id: '6095a710bd01d100a506d4b5', name: 'Do Not Contact' },
  { id: '6095a710bd01d100a506d4b6', name: 'Bad Data' },
  { id: '6095a710bd01d100a506d4b7', name: 'Changed Job' },
] as const;

export const NEW_STAGE_ID = SANDBOX_CONTACT_STAGES[0].id;
/** The sandbox team's only user, owner and creator of every contact. */
export const SANDBOX_USER_ID = '64b0a11ce5a2d00001d0e0a1';
export const SANDBOX_TEAM_ID = '64b0a11ce5a2d00001d0e0a0';
