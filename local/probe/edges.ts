import {
  answeredAsDocumented,
  collectIds,
  enrichmentCompleted,
  recordsUntil,
  statusesOf,
  type ProbeContext,
} from './context';
import { isNamed, probePerson } from './people';
import { tally } from './report';
import { mentions } from './sandbox-door';
import type { Answer, EnrichmentAnswer } from './service-client';

/** U+FDFA: one character that NFKC turns into eighteen (3 bytes each in UTF-8). */
const LONGEST_NFKC = '\ufdfa';
/** U+1D505: 4 bytes in UTF-8, 2 UTF-16 units. */
const FOUR_BYTES = '\u{1d505}';

/** Issue 10, 4: names at the field limits in multi-byte characters: no 5xx, the batch's other people converted. */
export async function overLongNames(context: ProbeContext): Promise<void> {
  const { service, report, tag } = context;
  service.probe = 'over-long multi-byte names';
  const people: Array<Record<string, string>> = Array.from({ length: 10 }, (_, i) => {
    const person = probePerson(`long${'abcdefghij'[i]}`, tag);
    return {
      first_name: person.first_name,
      last_name: person.last_name,
      email: person.email,
      organization_name: 'Seq Co.',
    };
  });
  const longFirst = (word: string) => `${word}${tag}${LONGEST_NFKC.repeat(200 - word.length - tag.length)}`;
  people[2] = {
    ...people[2],
    first_name: longFirst('Longc'),
    last_name: FOUR_BYTES.repeat(100),
    organization_name: LONGEST_NFKC.repeat(300),
  };
  people[3] = {
    first_name: longFirst('Longd'),
    last_name: FOUR_BYTES.repeat(100),
    organization_name: LONGEST_NFKC.repeat(300),
  };
  people[4] = {
    ...people[4],
    title: LONGEST_NFKC.repeat(300),
    present_raw_address: LONGEST_NFKC.repeat(1000),
    website_url: `https://${'\u00e9'.repeat(60)}.example/${'\u00e9'.repeat(900)}`,
  };
  people[5] = { ...people[5], linkedin_url: `https://www.linkedin.com/in/${FOUR_BYTES.repeat(1000)}` };
  const { answer } = await service.withRetries(() => service.webhook(enrichmentCompleted({ people })));
  const results = collectIds(context, answer);
  const records = await recordsUntil(
    context,
    results.map((r) => r.id),
  );
  const verified = [...records.values()].filter((r) => r?.status === 'verified');
  report.check(
    'a batch of 10 with names, companies, addresses and URLs at their limits in multi-byte characters',
    '202 (queued) as documented, 10 results, no 5xx; then at least 8 people verified (every other one)',
    `HTTP ${answer.status}; ${tally(results.map((r) => r.status))}; records ${tally(statusesOf(records))}`,
    answeredAsDocumented(answer) && results.length === 10 && verified.length >= 8,
  );
  const again = await service.withRetries(() => service.post('/contacts', people[3]));
  const lookups = await Promise.all([
    service.post('/enrichments', {
      first_name: longFirst('Longe'),
      last_name: FOUR_BYTES.repeat(100),
      organization_name: LONGEST_NFKC.repeat(300),
    }),
    service.post('/conversions/lookup', {
      first_name: longFirst('Longd'),
      last_name: FOUR_BYTES.repeat(100),
      organization_name: LONGEST_NFKC.repeat(300),
    }),
    service.post('/conversions/lookup', { email: `${'a'.repeat(3000)}@x.example` }),
  ]);
  report.check(
    'the over-long person again, enriched and looked up by the same names',
    'POST /contacts 200 duplicate; enrichment 404 or 400; lookup 200 (found) or 400; no 5xx',
    `contacts ${again.answer.status} ${collectIds(context, again.answer)[0]?.status}; ${lookups.map((a) => a.status).join(', ')}`,
    again.answer.status === 200 &&
      collectIds(context, again.answer)[0]?.status === 'duplicate' &&
      lookups.every((a) => a.status < 500),
  );
}

/** Issue 10, 7: IDN, Unicode and lone-surrogate emails in one batch: the good people are converted. */
export async function unusualEmails(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'unusual emails';
  const name = (word: string) => probePerson(word, tag);
  const entries: Array<[string, string, 'converted' | 'invalid']> = [
    ['IDN domain', JSON.stringify(`ana.${tag}@b\u00fccher.example`), 'converted'],
    ['Unicode local part', JSON.stringify(`jos\u00e9.${tag}@analyticalengines.example`), 'converted'],
    ['lone surrogate', `"lone\\ud800.${tag}@analyticalengines.example"`, 'invalid'],
    ['plain', JSON.stringify(`plain.${tag}@analyticalengines.example`), 'converted'],
    ['not an email', JSON.stringify(`not-an-email-${tag}`), 'invalid'],
    ['IDN TLD, CJK local part', JSON.stringify(`\u674e.${tag}@\u4f8b\u3048.\u30c6\u30b9\u30c8`), 'converted'],
  ];
  const people = entries.map(([kind, email], i) => {
    const person = name(`mail${'abcdef'[i]}`);
    return `{"first_name": ${JSON.stringify(person.first_name)}, "last_name": ${JSON.stringify(kind)}, "email": ${email}}`;
  });
  // `?wait=20`: the answer comes once every queued person is converted, with final results.
  const { answer } = await service.withRetries(() =>
    service.post('/contacts?wait=20', `{"people": [${people.join(', ')}]}`),
  );
  const results = collectIds(context, answer);
  const observed = results.map((r) =>
    ['created', 'existing', 'duplicate'].includes(r.status) ? 'converted' : r.status,
  );
  const idnContact = (await sandbox.state()).contacts.find(
    (c) => c.email === `ana.${tag}@xn--bcher-kva.example`,
  );
  report.check(
    'one batch (POST /contacts?wait=20): IDN domain, Unicode local part, lone surrogate, plain, not an email, IDN TLD',
    `200; ${entries.map(([, , outcome]) => outcome).join(', ')}; the IDN one in punycode at Apollo`,
    `HTTP ${answer.status}; ${observed.join(', ')}; IDN contact ${idnContact ? 'in punycode' : 'not found in punycode'}`,
    answer.status === 200 &&
      JSON.stringify(observed) === JSON.stringify(entries.map(([, , outcome]) => outcome)) &&
      idnContact !== undefined,
  );
  const alone = await service.webhook(
    enrichmentCompleted({ person: { first_name: 'x', last_name: 'y', email: 'placeholder' } }).replace(
      '"placeholder"',
      `"only\\udfff.${tag}@analyticalengines.example"`,
    ),
  );
  report.check(
    'a delivery whose only person has a lone-surrogate email',
    '400 invalid_request naming the field',
    `HTTP ${alone.status} ${String((alone.json as { field?: string } | undefined)?.field)}`,
    alone.status === 400,
  );
}

/** Issue 10, 8 and 9: `GET /conversions/{id}` with escapes and long ids. */
export async function conversionPaths(context: ProbeContext, knownId: string | null): Promise<void> {
  const { service, report } = context;
  service.probe = 'GET /conversions paths';
  const paths: Array<[string, string, number[]]> = [
    ['%2540', '/conversions/%2540', [400]],
    ['c_ + %2540 + 20 letters', `/conversions/c_%2540${'A'.repeat(20)}`, [400]],
    ['3,000-character id', `/conversions/c_${'A'.repeat(2998)}`, [400]],
    ['500 escaped emoji', `/conversions/${'%F0%9F%98%80'.repeat(500)}`, [400]],
    ['invalid UTF-8 escape', '/conversions/c_%FF%FE', [400]],
    ['../ escaped', '/conversions/..%2F..%2Fetc%2Fpasswd', [400, 404]],
    ['well-formed unknown id', `/conversions/c_${'Q'.repeat(22)}`, [404]],
  ];
  if (knownId !== null)
    paths.push(['a known id with its _ escaped once', `/conversions/${knownId.replace('_', '%5F')}`, [200]]);
  const observed: string[] = [];
  let pass = true;
  for (const [name, path, expected] of paths) {
    const answer = await service.get(path);
    observed.push(`${name} ${answer.status}`);
    pass &&= expected.includes(answer.status);
  }
  report.check(
    'GET /conversions/{id} with %2540, a 3,000-character id, escapes',
    '400 for what is not a conversion id, 404 unknown, 200 known (decoded once); never 5xx',
    observed.join('; '),
    pass,
  );
}

/** Issue 10, 8: a callback's request_id spelled as a decimal or with an exponent is read. */
export async function requestIdSpellings(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'request_id spellings';
  const person = probePerson('theodora', tag);
  await sandbox.addPerson({ ...person, mobile_phones: [{ raw_number: '+1 555 010 7777' }] });
  const { answer } = await service.withRetries(() =>
    service.post('/enrichments', { email: person.email, reveal_phone_number: true }),
  );
  collectIds(context, answer);
  const enriched = answer.json as EnrichmentAnswer;
  const id = enriched.id ?? '';
  const before = await service.recordUntil(id, (r) => r.phone_reveal === 'applied', 20_000);
  const delivered = (await sandbox.state()).callbacks.find((c) => c.requestId === enriched.request_id);
  const digits = String(enriched.request_id);
  const [sign, unsigned] = digits.startsWith('-') ? ['-', digits.slice(1)] : ['', digits];
  const spellings = [
    digits,
    `${digits}.0`,
    `${sign}${unsigned[0]}.${unsigned.slice(1)}e${unsigned.length - 1}`,
    `${sign}${unsigned}0e-1`,
    '1.5e3',
    '1500.000',
  ];
  const statuses: string[] = [];
  for (const spelling of spellings) {
    const body = JSON.stringify({ request_id: 'SPELLING', ...delivered?.body }).replace(
      '"SPELLING"',
      spelling,
    );
    const reply = await service.phoneCallback(body);
    statuses.push(
      `${spelling.length > 12 ? `${spelling.slice(0, 6)}…${spelling.slice(-5)}` : spelling} ${reply.status}`,
    );
  }
  const after = await service.record(id);
  report.check(
    "Apollo's callback replayed with request_id as digits, decimal and exponent",
    '200 each; the record keeps its request_id, credits and applied phones',
    `${statuses.join('; ')}; request_id ${after?.request_id === before?.request_id ? 'same' : 'changed'}, ` +
      `credits ${String(before?.credits_consumed)} → ${String(after?.credits_consumed)}, ${String(after?.phone_reveal)}`,
    statuses.every((s) => s.endsWith(' 200')) &&
      after?.request_id === before?.request_id &&
      after?.credits_consumed === before?.credits_consumed &&
      after?.phone_reveal === 'applied',
  );
}

/**
 * Issue 10, 8: the webhook signature is checked over the bytes API Gateway hands over: the raw
 * bytes of a body it base64-encodes (any content type but text ones), the decoded text of a
 * `application/json` body (README: a body that is not UTF-8 then fails a signature over its bytes).
 */
export async function signatureOverRawBytes(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'signature over raw bytes';
  const person = probePerson('wendeline', tag);
  const [head, tail] = enrichmentCompleted({ person: { ...person, last_name: 'SPLIT' } }).split('SPLIT');
  const invalidUtf8 = Buffer.concat([
    Buffer.from(`${head}Bad`),
    Buffer.from([0xff, 0xfe]),
    Buffer.from(tail ?? ''),
  ]);
  const replacedText = Buffer.from(invalidUtf8.toString('utf8'));
  const binary = { contentType: 'application/octet-stream' };
  const statuses = [
    (await service.webhook(invalidUtf8, binary)).status,
    (await service.webhook(invalidUtf8, { ...binary, signedBytes: replacedText })).status,
    (await service.webhook(invalidUtf8)).status,
  ];
  // Nothing recorded, so nothing queued: the consumer will never convert anything from them.
  const recordedAfterInvalid = (await service.post('/conversions/lookup', { email: person.email })).status;
  const contactsAfterInvalid = (await sandbox.state()).contacts.filter((c) =>
    isNamed(person, c.first_name),
  ).length;
  const unicode = Buffer.from(
    enrichmentCompleted({ person: { ...person, last_name: 'Gr\u00fc\u00df \u{1f600}' } }),
  );
  const good = await service.webhook(unicode);
  collectIds(context, good);
  const goodBinary = await service.webhook(unicode, binary);
  const tampered = await service.webhook(Buffer.concat([unicode, Buffer.from(' ')]), {
    signedBytes: unicode,
  });
  collectIds(context, goodBinary);
  statuses.push(good.status, goodBinary.status, tampered.status);
  const records = await recordsUntil(
    context,
    [good, goodBinary].flatMap((answer) => collectIds(context, answer).map((r) => r.id)),
  );
  const contacts = (await sandbox.state()).contacts.filter((c) => isNamed(person, c.first_name));
  report.check(
    'webhook signatures: a body that is not UTF-8 (octet-stream: signed over its bytes, over its U+FFFD text; ' +
      'json: over its bytes), a UTF-8 name (json, octet-stream), a byte added',
    '400, 401, 401 (lookup then 404: nothing recorded); accepted (202 queued / 200), accepted, 401; ' +
      'one record, verified; one contact',
    `${statuses.join(', ')}; lookup ${recordedAfterInvalid}, ${contactsAfterInvalid} contact(s) after the non-UTF-8 bodies; ` +
      `${records.size} record(s) (${tally(statusesOf(records))}); ${contacts.length} contact(s) in all`,
    JSON.stringify([...statuses.slice(0, 3), statuses[5]]) === JSON.stringify([400, 401, 401, 401]) &&
      answeredAsDocumented(good) &&
      answeredAsDocumented(goodBinary) &&
      recordedAfterInvalid === 404 &&
      contactsAfterInvalid === 0 &&
      records.size === 1 &&
      [...records.values()].every((r) => r?.status === 'verified') &&
      contacts.length === 1,
  );
}

/** Issue 10, 8: replays of one webhook-id are answered alike and do not count as free lookups. */
export async function webhookIdReplays(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'webhook-id replays';
  const person = probePerson('lucasta', tag);
  const body = enrichmentCompleted({ person: { ...person, mobile_phone: '555-010-3131' } });
  const id = `msg_probe_${tag}`;
  const first = await service.withRetries(() => service.webhook(body, { id }));
  const result = collectIds(context, first.answer)[0];
  const before = result?.id ? await service.recordUntil(result.id, (r) => r.status === 'verified') : null;
  const start = (await sandbox.state()).requests.length;
  const replays: Answer[] = [];
  for (let i = 0; i < 5; i += 1) replays.push(await service.webhook(body, { id }));
  replays.push(...(await Promise.all(Array.from({ length: 5 }, () => service.webhook(body, { id })))));
  const after = result?.id ? await service.record(result.id) : null;
  const calls = (await sandbox.state()).requests.slice(start).filter((r) => mentions(r, person));
  report.check(
    'one delivery replayed 10 times under its webhook-id (5 in a row, 5 at once), once the person is verified',
    'the first answer (202 queued) each time; free_lookups unchanged; no Apollo call',
    `first HTTP ${first.answer.status} ${String(result?.status)}, record ${String(before?.status)}; replays HTTP ${tally(replays.map((r) => r.status))}; ` +
      `${replays.filter((r) => r.text === first.answer.text).length} identical; ` +
      `free_lookups ${String(before?.free_lookups)} → ${String(after?.free_lookups)}; ${calls.length} Apollo call(s)`,
    answeredAsDocumented(first.answer) &&
      before?.status === 'verified' &&
      replays.every((r) => r.status === first.answer.status && r.text === first.answer.text) &&
      before?.free_lookups === after?.free_lookups &&
      calls.length === 0,
  );
}

/** Whatever a careless or hostile sender may send: answered, never with a 5xx. */
export async function hostileInputs(context: ProbeContext): Promise<void> {
  const { service, report, tag } = context;
  service.probe = 'hostile inputs';
  const person = probePerson('mallory', tag);
  const nested = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  const bodies: Array<[string, string, string | Buffer]> = [
    ['contacts', 'empty', ''],
    ['contacts', 'null', 'null'],
    ['contacts', 'array', '[]'],
    ['contacts', 'people not a list', '{"people": {}}'],
    ['contacts', 'people [null]', '{"people": [null]}'],
    [
      'contacts',
      '101 people',
      JSON.stringify({ people: Array.from({ length: 101 }, () => ({ email: person.email })) }),
    ],
    ['contacts', '5,000-deep nesting', `{"people": ${nested}}`],
    ['contacts', 'numbers for names', '{"first_name": 5, "last_name": [], "email": {}}'],
    [
      'contacts',
      '__proto__',
      `{"__proto__": {"email": "x"}, "constructor": {"prototype": {}}, "email": ${JSON.stringify(person.email)}}`,
    ],
    ['contacts', 'both person and people', `{"person": {}, "people": []}`],
    ['contacts', '1.1 MB', JSON.stringify({ email: person.email, title: 'x'.repeat(1_100_000) })],
    ['enrichments', 'id with slashes', '{"id": "../../x"}'],
    ['enrichments', 'email a number', '{"email": 5}'],
    [
      'enrichments',
      'reveal "yes"',
      `{"email": ${JSON.stringify(person.email)}, "reveal_phone_number": "yes"}`,
    ],
    ['enrichments', 'javascript: LinkedIn', '{"linkedin_url": "javascript:alert(1)//linkedin.com/"}'],
    ['enrichments', 'nothing', '{}'],
    ['conversions/lookup', 'nothing', '{}'],
    ['conversions/lookup', 'email a list', '{"email": ["a"]}'],
  ];
  const statuses: string[] = [];
  for (const [path, name, body] of bodies) {
    const answer = await service.post(`/${path}`, body);
    collectIds(context, answer);
    statuses.push(`${path} ${name} ${answer.status}`);
  }
  const token = encodeURIComponent(service.callbackToken);
  const callbacks = [
    'not json',
    '{"people": "x"}',
    '{"request_id": 1e400, "people": []}',
    `{"people": [{"id": "${'x'.repeat(100)}"}]}`,
    '{"people": [{"id": "0123456789abcdef01234567", "phone_numbers": [{"raw_number": 5}]}]}',
  ];
  for (const body of callbacks) {
    const answer = await service.request('POST', `/webhooks/apollo/phone-numbers?token=${token}`, {
      body,
      headers: { 'content-type': 'application/json' },
    });
    statuses.push(`callback ${body.slice(0, 16)} ${answer.status}`);
  }
  const unsigned = await service.request('POST', '/webhooks/enrichment-completed', {
    body: enrichmentCompleted({ person }),
  });
  statuses.push(`webhook unsigned ${unsigned.status}`);
  const signedGarbage = await service.webhook('{"type": "person.enrichment.completed", "data": 7}');
  statuses.push(`webhook signed garbage ${signedGarbage.status}`);
  const serverErrors = statuses.filter((s) => /\s5\d\d$/.test(s));
  report.check(
    `${statuses.length} malformed or hostile requests to every endpoint`,
    '4xx (or 200 for callbacks it can acknowledge); never 5xx',
    serverErrors.length === 0
      ? `no 5xx (${tally(statuses.map((s) => s.slice(-3)))})`
      : serverErrors.join('; '),
    serverErrors.length === 0,
  );
}
