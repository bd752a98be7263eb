import { randomUUID } from 'node:crypto';
import { identityKey, isWeak, newConversionId, type Identity } from './identity';
import type { IdentityEntry, PersonIdentities } from './ledger';
import type { Person } from './person';
import { sleep } from './bounded';

/**
 * Which record (conversion id) a person is: one person seen under several identities (with and
 * without email, by organisation or by website, by LinkedIn URL) resolves to one record.
 *
 * - A person with an email is anchored by its email identity, and links its weak identities
 *   (CRM record ids, LinkedIn, name + organisation, name + domain) to its record. A new email first looks through
 *   its weak identities for a record no email owns yet (the same person, delivered without email
 *   before) and adopts it.
 * - A person without email uses the record its weak identities name; only if none, it gets its own.
 * - Two different emails never share a record: a record is owned by at most one email
 *   (`ownRecord`), and a weak identity two emails claim is marked ambiguous: it names nobody after.
 * - A person without email whose only name identities are ambiguous is refused with a reason
 *   (`several people with this name at this company: send an email`): merging it into either would
 *   be a guess, and giving it its own record would most likely make a duplicate contact.
 *
 * Concurrency: every write is a single-item conditional write. Deliveries that write a weak
 * identity hold a short lock on each of them (all or none, so two never wait on each other): "the
 * same person with and without email at the same moment" is decided by whoever locks the name
 * first, and the other follows. What remains open: a brand-new email delivered with no name at all
 * (no weak identity to lock) at the same moment as the same email with a name that already names a
 * record made without email. The first may anchor the email to a new record while the second adopts
 * the old one: the email keeps the new record, and the old record (and its contact, which has no
 * email, so Apollo's search by email does not find it) stays apart: two contacts. It takes three
 * deliveries of one person in a rare order; the operator sees it as two records whose contacts
 * share a name.
 *
 * Crash safety: links are written before the record is claimed, the email link after the record is
 * owned, and weak links last; a delivery that finds any of its identities unlinked does the missing
 * writes again, so the next delivery repairs whatever a crash left half done.
 */
export type Resolution =
  { kind: 'record'; key: string } | { kind: 'ambiguous'; reason: string } | { kind: 'busy' };

export const AMBIGUOUS_NAME_REASON = 'several people with this name at this company: send an email';

export interface IdentityResolutionDependencies {
  ledger: PersonIdentities;
  now?: () => number;
  newId?: () => string;
  /** How long a delivery may hold a weak identity's lock (it lapses by itself after). */
  lockMs?: number;
  /** How long a delivery waits for another one holding a lock before answering `busy`. */
  lockWaitMs?: number;
  /** How long a record owned by an email but never claimed (a crash in between) is kept. */
  placeholderTtlSeconds?: number;
}

interface Seen {
  identity: Identity;
  key: string;
  entry: IdentityEntry | null;
}

export class IdentityResolution {
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(private readonly deps: IdentityResolutionDependencies) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? newConversionId;
  }

  /**
   * The record `person` is, after writing whatever links are missing. While another delivery holds
   * one of the weak identities, waits (re-reading, with backoff) until it has decided, at most
   * `lockWaitMs`; then answers `busy`.
   */
  async resolve(person: Pick<Person, 'identities'>, { deadline }: { deadline: number }): Promise<Resolution> {
    const weak = person.identities.filter(isWeak).map(identityKey);
    const waitUntil = Math.min(deadline - 1000, this.now() + (this.deps.lockWaitMs ?? 1000));
    for (let attempt = 0; ; attempt += 1) {
      const decided = this.decide(await this.read(person.identities));
      if (decided !== undefined) return decided;
      const token = randomUUID();
      if (await this.lockAll(weak, token, deadline)) {
        try {
          const seen = await this.read(person.identities);
          return this.decide(seen) ?? (await this.anchor(seen));
        } finally {
          await this.unlockAll(weak, token);
        }
      }
      const pause = Math.min(400, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (this.now() + pause > waitUntil) return { kind: 'busy' };
      await sleep(pause);
    }
  }

  /** Takes every lock, or none: a delivery never waits while holding one, so none can deadlock. */
  private async lockAll(identities: string[], token: string, deadline: number): Promise<boolean> {
    const nowMs = this.now();
    const untilMs = Math.min(deadline, nowMs + (this.deps.lockMs ?? 5000));
    const taken = await Promise.all(
      identities.map((identity) => this.deps.ledger.lockIdentity({ identity, token, untilMs, nowMs })),
    );
    if (taken.every(Boolean)) return true;
    await this.unlockAll(
      identities.filter((_, index) => taken[index]),
      token,
    );
    return false;
  }

  private async unlockAll(identities: string[], token: string): Promise<void> {
    await Promise.all(identities.map((identity) => this.deps.ledger.unlockIdentity({ identity, token })));
  }

  private async read(identities: Identity[]): Promise<Seen[]> {
    return Promise.all(
      identities.map(async (identity) => {
        const key = identityKey(identity);
        return { identity, key, entry: await this.deps.ledger.readIdentity({ identity: key }) };
      }),
    );
  }

  /** The answer when nothing needs writing: the record is known and every identity is linked. */
  private decide(seen: Seen[]): Resolution | undefined {
    const [strongest] = seen;
    const weak = seen.filter((s) => isWeak(s.identity));
    const unlinked = weak.some((s) => !s.entry?.ambiguous && !s.entry?.aliasOf);
    if (strongest !== undefined && !isWeak(strongest.identity)) {
      const key = strongest.entry?.aliasOf;
      return key && !unlinked ? { kind: 'record', key } : undefined;
    }
    const key = weak.find((s) => s.entry?.aliasOf)?.entry?.aliasOf;
    if (key) return unlinked ? undefined : { kind: 'record', key };
    if (this.nameAmbiguous(weak)) return { kind: 'ambiguous', reason: AMBIGUOUS_NAME_REASON };
    return undefined;
  }

  /**
   * A name identity several people share, and no LinkedIn URL or CRM id that tells them apart. An
   * ambiguous LinkedIn URL or CRM id alone refuses nobody: the name still decides.
   */
  private nameAmbiguous(weak: Seen[]): boolean {
    return weak.some(
      (s) => s.entry?.ambiguous && (s.identity[0] === 'name_org' || s.identity[0] === 'name_domain'),
    );
  }

  /** Under the weak identities' locks: picks or makes the record, then writes the missing links. */
  private async anchor(seen: Seen[]): Promise<Resolution> {
    const [strongest] = seen;
    const weak = seen.filter((s) => isWeak(s.identity));
    if (strongest !== undefined && !isWeak(strongest.identity)) {
      const key = strongest.entry?.aliasOf ?? (await this.anchorEmail(strongest, weak));
      await this.linkWeak(weak, key, strongest.key);
      return { kind: 'record', key };
    }
    const known = weak.find((s) => s.entry?.aliasOf)?.entry?.aliasOf;
    if (!known && this.nameAmbiguous(weak)) return { kind: 'ambiguous', reason: AMBIGUOUS_NAME_REASON };
    let key = known;
    if (!key) {
      // A new record: its first identity decides, should a lapsed lock have let another delivery in.
      const [anchor] = weak.filter((s) => !s.entry?.ambiguous);
      const proposed = this.newId();
      key = anchor
        ? ((await this.deps.ledger.linkIdentity({ identity: anchor.key, key: proposed, nowMs: this.now() }))
            .aliasOf ?? proposed)
        : proposed;
    }
    await this.linkWeak(weak, key, null);
    return { kind: 'record', key };
  }

  /**
   * A new email: adopts the record a weak identity names if no other email owns it (the same
   * person, converted without email before), else makes a new record. Then links the email to it;
   * if another delivery of this email linked it first, follows that one.
   */
  private async anchorEmail(email: Seen, weak: Seen[]): Promise<string> {
    const { ledger } = this.deps;
    let key: string | undefined;
    for (const candidate of weak) {
      const named = candidate.entry?.aliasOf;
      if (!named) continue;
      const owner = await ledger.recordOwner({ key: named });
      if (owner === null || owner === email.key) {
        if (await ledger.ownRecord({ key: named, owner: email.key, nowMs: this.now() })) {
          key = named;
          break;
        }
      }
      // Another email owns it: a different person with this name (or LinkedIn URL).
      await this.markAmbiguous(candidate);
    }
    if (key === undefined) {
      key = this.newId();
      await ledger.ownRecord({
        key,
        owner: email.key,
        nowMs: this.now(),
        placeholderExpiresAtSeconds:
          Math.floor(this.now() / 1000) + (this.deps.placeholderTtlSeconds ?? 7 * 24 * 3600),
      });
    }
    const linked = await ledger.linkIdentity({ identity: email.key, key, nowMs: this.now() });
    return linked.aliasOf ?? key;
  }

  /**
   * Points every unlinked weak identity at `key`. One already naming another record stays as it is,
   * unless an email other than `owner` owns that record: then two people share it, and it is marked
   * ambiguous.
   */
  private async linkWeak(weak: Seen[], key: string, owner: string | null): Promise<void> {
    const { ledger } = this.deps;
    await Promise.all(
      weak.map(async (s) => {
        if (s.entry?.ambiguous) return;
        const named =
          s.entry?.aliasOf ??
          (await ledger.linkIdentity({ identity: s.key, key, nowMs: this.now() })).aliasOf;
        if (!named || named === key || owner === null) return;
        const other = await ledger.recordOwner({ key: named });
        if (other !== null && other !== owner) await this.markAmbiguous(s);
      }),
    );
  }

  private async markAmbiguous(s: Seen): Promise<void> {
    await this.deps.ledger.markIdentityAmbiguous({ identity: s.key, nowMs: this.now() });
    s.entry = { aliasOf: null, ambiguous: true };
  }
}
