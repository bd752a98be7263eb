import type { LocalQueueDefinition } from './sqs-server';
import { localQueueArn } from './sqs-server';
import { loadServerlessConfig, type Yaml, type YamlObject } from './state-machine-definition';

/**
 * A function's `sqs` event and its queues, read out of the real serverless.yml with the variables
 * resolved as the Serverless Framework resolves them: the local stack creates the very queues AWS
 * gets (visibility timeout, retention, redrive policy) and polls them with the event's own batch
 * size, window, concurrency and response type.
 */
export interface SqsEventSource {
  /** The deployed function name, which serverless-offline's Invoke API takes. */
  functionName: string;
  /** The queue the function consumes. */
  queueName: string;
  /** The queues to create, each after the queues its RedrivePolicy names (the DLQ first). */
  queues: LocalQueueDefinition[];
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  maximumConcurrency: number;
  /** `functionResponseType: ReportBatchItemFailures`: the function names the messages that failed. */
  reportBatchItemFailures: boolean;
}

/** Lambda's defaults for an `sqs` event that leaves a setting out. */
const AWS_DEFAULT_BATCH_SIZE = 10;
/** Without `maximumConcurrency` Lambda scales up to 1,000 concurrent batches for one queue. */
const AWS_MAX_CONCURRENCY = 1000;

/** Queue properties that are queue attributes with the same name (CreateQueue takes them as strings). */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'SqsManagedSseEnabled',
] as const;

export function loadSqsEventSource(options: {
  functionKey: string;
  stage?: string;
  serverlessYmlPath?: string;
  env?: Record<string, string | undefined>;
}): SqsEventSource {
  const loaded = loadServerlessConfig(options);
  const { config, serverlessYmlPath } = loaded;
  const where = (path: string) => `${serverlessYmlPath}: ${path}`;

  const functions = objectAt(config['functions'], where('functions'));
  const functionConfig = objectAt(functions[options.functionKey], where(`functions.${options.functionKey}`));
  const events = Array.isArray(functionConfig['events']) ? functionConfig['events'] : [];
  const sqsEvents = events.filter((event) => isObject(event) && event['sqs'] !== undefined);
  if (sqsEvents.length !== 1) {
    throw new Error(where(`functions.${options.functionKey} must have exactly one sqs event`));
  }
  const eventPath = `functions.${options.functionKey}.events.sqs`;
  const event = objectAt(
    loaded.resolveNode((sqsEvents[0] as YamlObject)['sqs'] as Yaml, eventPath),
    where(`${eventPath} (the local stack needs the object form, with arn: !GetAtt <queue>.Arn)`),
  );
  const queueLogicalId = getAttArnOf(event['arn'], where(`${eventPath}.arn`));

  const resources = objectAt(
    isObject(config['resources']) ? config['resources']['Resources'] : undefined,
    where('resources.Resources'),
  );
  const queues: LocalQueueDefinition[] = [];
  const addQueue = (logicalId: string, chain: string[]): string => {
    if (chain.includes(logicalId))
      throw new Error(where(`redrive policies loop: ${[...chain, logicalId].join(' -> ')}`));
    const path = `resources.Resources.${logicalId}`;
    const resource = objectAt(resources[logicalId], where(path));
    if (resource['Type'] !== 'AWS::SQS::Queue') throw new Error(where(`${path} is not an AWS::SQS::Queue`));
    const properties = objectAt(
      loaded.resolveNode(resource['Properties'] ?? null, `${path}.Properties`),
      where(`${path}.Properties`),
    );
    const queueName = properties['QueueName'];
    if (typeof queueName !== 'string' || queueName === '') {
      throw new Error(
        where(`${path}.Properties.QueueName must be set (the local stack creates the queue by name)`),
      );
    }
    const attributes: Record<string, string> = {};
    for (const name of QUEUE_ATTRIBUTES) {
      const value = properties[name];
      if (value === undefined || value === null) continue;
      if (typeof value === 'object')
        throw new Error(where(`${path}.Properties.${name} must be a plain value locally`));
      attributes[name] = String(value);
    }
    const redrive = properties['RedrivePolicy'];
    if (redrive !== undefined && redrive !== null) {
      const policy = objectAt(redrive, where(`${path}.Properties.RedrivePolicy`));
      const deadLetterId = getAttArnOf(
        policy['deadLetterTargetArn'],
        where(`${path}.Properties.RedrivePolicy.deadLetterTargetArn`),
      );
      const deadLetterName = addQueue(deadLetterId, [...chain, logicalId]);
      attributes['RedrivePolicy'] = JSON.stringify({
        deadLetterTargetArn: localQueueArn(deadLetterName),
        maxReceiveCount: Number(policy['maxReceiveCount']),
      });
    }
    // RedriveAllowPolicy, tags and KMS settings change nothing a local consumer could notice.
    if (!queues.some((queue) => queue.QueueName === queueName))
      queues.push({ QueueName: queueName, Attributes: attributes });
    return queueName;
  };
  const queueName = addQueue(queueLogicalId, []);

  const functionName = loaded.lambdaFunctionNames[options.functionKey];
  if (functionName === undefined) throw new Error(where(`functions.${options.functionKey} has no name`));
  return {
    functionName,
    queueName,
    queues,
    batchSize: integerAt(event, 'batchSize', AWS_DEFAULT_BATCH_SIZE, where(eventPath)),
    maximumBatchingWindowSeconds: integerAt(event, 'maximumBatchingWindow', 0, where(eventPath)),
    maximumConcurrency: integerAt(event, 'maximumConcurrency', AWS_MAX_CONCURRENCY, where(eventPath)),
    reportBatchItemFailures: event['functionResponseType'] === 'ReportBatchItemFailures',
  };
}

function isObject(value: Yaml | undefined): value is YamlObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: Yaml | undefined, where: string): YamlObject {
  if (!isObject(value)) throw new Error(`${where}: expected a mapping`);
  return value;
}

/** The logical id in `Fn::GetAtt: [Id, Arn]` (or `!GetAtt Id.Arn`): the only queue reference resolvable locally. */
function getAttArnOf(value: Yaml | undefined, where: string): string {
  const getAtt = isObject(value) ? value['Fn::GetAtt'] : undefined;
  if (Array.isArray(getAtt) && getAtt.length === 2 && typeof getAtt[0] === 'string' && getAtt[1] === 'Arn') {
    return getAtt[0];
  }
  throw new Error(`${where}: expected !GetAtt <queue resource>.Arn, not ${JSON.stringify(value)}`);
}

function integerAt(event: YamlObject, name: string, fallback: number, where: string): number {
  const value = event[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new Error(`${where}.${name} must be an integer`);
  return value;
}
