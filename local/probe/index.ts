import '../polyfills';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ProbeContext } from './context';
import {
  conversionPaths,
  hostileInputs,
  overLongNames,
  requestIdSpellings,
  signatureOverRawBytes,
  unusualEmails,
  webhookIdReplays,
} from './edges';
import { checkLogs } from './leaks';
import { loadOf100, nothingStuck, verificationsDuringAnOutage } from './load';
import { separatorsDoNotCollide, variantsMakeOneContact } from './one-contact';
import {
  concurrentEnrichments,
  concurrentEnrichmentsByName,
  reEnrichByOtherIdentities,
  revealWithoutPhones,
  webhookPersonApolloKnows,
} from './paid-once';
import { newRunTag } from './people';
import { ProbeReport } from './report';
import { SandboxDoor } from './sandbox-door';
import { ServiceClient } from './service-client';

/**
 * `npm run probe -- --log FILE`: probes a running `npm start` as an attacker and a messy CRM would
 * (issue 10's probes), then greps the stack's log (FILE: where its output was kept) for what they
 * sent. Prints one line per probe and a Markdown table (`--markdown OUT` writes it to a file);
 * exits 1 if any probe failed. Takes about three minutes: it waits for the sweep to find what the
 * state machines left (VERIFICATION_SWEEP_AFTER_MINUTES, 1 unless set). Start the stack with
 * `POWERTOOLS_LOG_LEVEL=DEBUG` to search its most talkative logs.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { log: { type: 'string' }, markdown: { type: 'string' } } });
  const service = new ServiceClient();
  const context: ProbeContext = {
    service,
    sandbox: new SandboxDoor(),
    report: new ProbeReport(),
    tag: newRunTag(),
    conversionIds: new Set(),
  };
  await context.sandbox.state().catch(() => {
    throw new Error(
      `the Apollo sandbox does not answer: start the stack first (npm start), with the same ports`,
    );
  });
  console.log(`Probing ${service.api} (run tag ${context.tag})\n`);

  const known = await concurrentEnrichments(context);
  if (known) await reEnrichByOtherIdentities(context, known);
  await concurrentEnrichmentsByName(context);
  await webhookPersonApolloKnows(context);
  await revealWithoutPhones(context);
  await requestIdSpellings(context);
  await variantsMakeOneContact(context);
  await separatorsDoNotCollide(context);
  await overLongNames(context);
  await unusualEmails(context);
  await conversionPaths(context, known?.id ?? null);
  await signatureOverRawBytes(context);
  await webhookIdReplays(context);
  await hostileInputs(context);
  await loadOf100(context);
  await verificationsDuringAnOutage(context);
  const sweepOutputs: string[] = [];
  await nothingStuck(context, sweepOutputs);

  context.report.check(
    'every answer of every probe',
    'no 5xx but the documented 503 + Retry-After',
    service.serverErrors.length === 0
      ? `none (${[...service.retryLaterAnswers.values()].reduce((a, b) => a + b, 0)} retry-later answers, retried)`
      : service.serverErrors.map((e) => `${e.probe}: ${e.request} ${e.status} ${e.body}`).join(' ‖ '),
    service.serverErrors.length === 0,
  );
  if (values.log) {
    checkLogs(context, [
      { name: values.log, text: readFileSync(values.log, 'utf8') },
      ...sweepOutputs.map((text, i) => ({ name: `sweep-${i + 1}`, text })),
    ]);
  } else {
    console.log("\n(no --log FILE: the stack's log was not searched for names and emails)");
  }

  const table = context.report.markdown();
  console.log(`\n${table}\n`);
  if (values.markdown) writeFileSync(values.markdown, `${table}\n`);
  const failures = context.report.failures.length;
  console.log(failures === 0 ? 'Every probe passed.' : `${failures} probe(s) failed.`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(`The probe could not run: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
});
