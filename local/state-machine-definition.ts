import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, type CollectionTag, type ScalarTag } from 'yaml';

/**
 * Reads a Step Functions state machine out of the real serverless.yml and resolves what the
 * Serverless Framework and serverless-step-functions would resolve at deploy time, so the local
 * stack runs the very definition that AWS runs. `loadServerlessConfig` gives the rest of the file
 * (the queue consumer's event source, for one) with the same variable resolution.
 */

export interface LoadStateMachineDefinitionOptions extends LoadServerlessConfigOptions {
  /** Key under `stepFunctions.stateMachines`. */
  stateMachine?: string;
}

export interface LoadedStateMachineDefinition {
  /** Plain Amazon States Language JSON. */
  definition: object;
  /** Serverless function key -> deployed Lambda name (`${service}-${stage}-${key}` unless the function sets `name`). */
  lambdaFunctionNames: Record<string, string>;
  /** Resolves other `${...}` variables of the same serverless.yml and stage, e.g. `${self:custom.ledgerTable}`. */
  resolve: (text: string) => unknown;
}

export type Yaml = null | boolean | number | string | Yaml[] | { [key: string]: Yaml };
export type YamlObject = { [key: string]: Yaml };

const defaultServerlessYmlPath = fileURLToPath(new URL('../serverless.yml', import.meta.url));

export interface LoadServerlessConfigOptions {
  serverlessYmlPath?: string;
  /** Overrides of `params.default` (and of `params.<stage>`). */
  params?: Record<string, string | number>;
  /** Overrides the `service` of serverless.yml. */
  service?: string;
  stage?: string;
  /** What `${env:NAME, 'fallback'}` reads; without it, such a variable takes its fallback. */
  env?: Record<string, string | undefined>;
}

export interface LoadedServerlessConfig {
  /** serverless.yml as parsed: variables unresolved, CloudFormation short tags in their long form. */
  config: YamlObject;
  serverlessYmlPath: string;
  /** Serverless function key -> deployed Lambda name (`${service}-${stage}-${key}` unless the function sets `name`). */
  lambdaFunctionNames: Record<string, string>;
  /** Resolves the `${...}` variables of a string, e.g. `${self:custom.ledgerTable}`; `where` names it in errors. */
  resolve: (text: string, where?: string) => Yaml;
  /**
   * Resolves the variables of every string inside `node` (a piece of `config`); CloudFormation
   * intrinsics (`{ 'Fn::GetAtt': ... }`) are left as they are, for the caller to interpret.
   */
  resolveNode: (node: Yaml, where: string) => Yaml;
}

/** Reads serverless.yml and resolves its variables the way the Serverless Framework does, on demand. */
export function loadServerlessConfig(options: LoadServerlessConfigOptions = {}): LoadedServerlessConfig {
  const serverlessYmlPath = options.serverlessYmlPath ?? defaultServerlessYmlPath;
  const stage = options.stage ?? 'dev';

  const config = asObject(
    parse(readFileSync(serverlessYmlPath, 'utf8'), { customTags: cloudFormationTags }) as Yaml,
    serverlessYmlPath,
  );
  const service = options.service ?? config['service'];
  if (typeof service !== 'string' || service === '') {
    throw new Error(`${serverlessYmlPath}: \`service\` must be a non-empty string`);
  }

  const paramSets = isObject(config['params']) ? config['params'] : {};
  const params: YamlObject = {
    ...(isObject(paramSets['default']) ? paramSets['default'] : {}),
    ...(isObject(paramSets[stage]) ? paramSets[stage] : {}),
    ...options.params,
  };
  const resolveVariables = variableResolver({
    config,
    service,
    stage,
    params,
    env: options.env ?? {},
    serverlessYmlPath,
  });

  const functions = isObject(config['functions']) ? config['functions'] : {};
  const lambdaFunctionNames: Record<string, string> = {};
  for (const [functionKey, functionConfig] of Object.entries(functions)) {
    const explicitName = isObject(functionConfig) ? functionConfig['name'] : undefined;
    const deployedName =
      typeof explicitName === 'string'
        ? resolveVariables(explicitName, `functions.${functionKey}.name`)
        : `${service}-${stage}-${functionKey}`;
    if (typeof deployedName === 'object') {
      throw new Error(
        `${serverlessYmlPath}: functions.${functionKey}.name is not a name: ${JSON.stringify(deployedName)}`,
      );
    }
    lambdaFunctionNames[functionKey] = String(deployedName);
  }

  const resolveNode = (node: Yaml, where: string): Yaml => {
    if (typeof node === 'string') return resolveVariables(node, where);
    if (Array.isArray(node)) return node.map((item, index) => resolveNode(item, `${where}[${index}]`));
    if (!isObject(node)) return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, resolveNode(value, `${where}.${key}`)]),
    );
  };

  return {
    config,
    serverlessYmlPath,
    lambdaFunctionNames,
    resolve: (text, where = 'resolve()') => resolveVariables(text, where),
    resolveNode,
  };
}

export function loadStateMachineDefinition(
  options: LoadStateMachineDefinitionOptions = {},
): LoadedStateMachineDefinition {
  const stateMachineKey = options.stateMachine ?? 'verification';
  const { config, lambdaFunctionNames, resolve } = loadServerlessConfig(options);
  const resolveVariables: ResolveVariables = (text, where) => resolve(text, where);

  const stateMachines = asObject(
    isObject(config['stepFunctions']) ? config['stepFunctions']['stateMachines'] : undefined,
    'stepFunctions.stateMachines',
  );
  const stateMachine = asObject(
    stateMachines[stateMachineKey],
    `stepFunctions.stateMachines.${stateMachineKey}`,
  );
  const definitionPath = `stepFunctions.stateMachines.${stateMachineKey}.definition`;
  const definition = resolveDefinitionNode(
    asObject(stateMachine['definition'], definitionPath),
    definitionPath,
    resolveVariables,
    lambdaArnsToNames(lambdaFunctionNames),
  );
  return {
    definition: asObject(definition, definitionPath),
    lambdaFunctionNames,
    resolve: (text) => resolve(text),
  };
}

/**
 * serverless-step-functions turns `Fn::GetAtt: [fnKey, Arn]` into the Lambda's ARN. Locally the
 * deployed function name stands in for it: serverless-offline's Invoke API takes the name.
 * Both the function key and its CloudFormation logical id (`VerifyContactLambdaFunction`) are accepted.
 */
function lambdaArnsToNames(lambdaFunctionNames: Record<string, string>): Map<string, string> {
  const namesByReference = new Map<string, string>();
  for (const [functionKey, deployedName] of Object.entries(lambdaFunctionNames)) {
    namesByReference.set(functionKey, deployedName);
    namesByReference.set(lambdaLogicalId(functionKey), deployedName);
  }
  return namesByReference;
}

/** The Serverless Framework's normalisation of a function key into its CloudFormation logical id. */
function lambdaLogicalId(functionKey: string): string {
  const normalized = functionKey.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized.charAt(0).toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

type ResolveVariables = (text: string, where: string) => Yaml;

function resolveDefinitionNode(
  node: Yaml,
  where: string,
  resolveVariables: ResolveVariables,
  lambdaNames: Map<string, string>,
): Yaml {
  if (typeof node === 'string') return resolveVariables(node, where);
  if (Array.isArray(node)) {
    return node.map((item, index) =>
      resolveDefinitionNode(item, `${where}[${index}]`, resolveVariables, lambdaNames),
    );
  }
  if (!isObject(node)) return node;

  const intrinsic = Object.keys(node).find((key) => key === 'Ref' || key.startsWith('Fn::'));
  if (intrinsic !== undefined) return resolveIntrinsic(node, intrinsic, where, lambdaNames);

  const resolved: YamlObject = {};
  for (const [key, value] of Object.entries(node)) {
    resolved[key] = resolveDefinitionNode(value, `${where}.${key}`, resolveVariables, lambdaNames);
  }
  return resolved;
}

function resolveIntrinsic(
  node: YamlObject,
  intrinsic: string,
  where: string,
  lambdaNames: Map<string, string>,
): string {
  const getAtt = node['Fn::GetAtt'];
  if (
    intrinsic === 'Fn::GetAtt' &&
    Array.isArray(getAtt) &&
    getAtt[1] === 'Arn' &&
    typeof getAtt[0] === 'string'
  ) {
    const functionName = lambdaNames.get(getAtt[0]);
    if (functionName !== undefined) return functionName;
  }
  throw new Error(
    `${where}: cannot resolve ${JSON.stringify(node)} locally. Only \`Fn::GetAtt: [<function key>, Arn]\` ` +
      'of a function in this serverless.yml is supported inside a state machine definition.',
  );
}

interface VariableSources {
  config: YamlObject;
  service: string;
  stage: string;
  params: YamlObject;
  env: Record<string, string | undefined>;
  serverlessYmlPath: string;
}

/** Serverless resolves at most this many nested levels; a deeper chain here is a reference cycle. */
const maxVariableDepth = 10;
const innermostVariable = /\$\{([^${}]+)\}/;

/**
 * Resolves `${param:X}`, `${sls:stage}` and `${self:path}` the way the Serverless Framework does:
 * innermost first, and a string that is exactly one variable takes the variable's value with its
 * type (so `Seconds: ${param:verifyInitialWaitSeconds}` stays a number).
 */
function variableResolver(sources: VariableSources): ResolveVariables {
  const lookUp = (variable: string, where: string): Yaml => {
    const [source, address = ''] = splitOnce(variable.trim(), ':');
    if (source === 'param' && Object.hasOwn(sources.params, address)) return sources.params[address] ?? null;
    if (source === 'sls' && address === 'stage') return sources.stage;
    if (source === 'self' && address === 'service') return sources.service;
    if (source === 'env') {
      // `${env:NAME, 'fallback'}`: the variable when set (even to ''), else the fallback, as osls does.
      const [name = '', fallback] = splitOnce(address, ',');
      const value = sources.env[name.trim()];
      if (value !== undefined) return value;
      const quoted = fallback === undefined ? undefined : /^\s*(['"])(.*)\1\s*$/.exec(fallback);
      if (quoted) return quoted[2] ?? '';
    }
    const value = source === 'self' ? valueAtPath(sources.config, address) : undefined;
    if (value !== undefined) return value;
    throw new Error(
      `${sources.serverlessYmlPath}: ${where}: cannot resolve \${${variable}}. ` +
        "Supported: ${param:NAME} (params.default or params.<stage>), ${sls:stage}, ${self:service}, ${self:<path>}, ${env:NAME, 'fallback'}.",
    );
  };

  const resolve = (text: string, where: string, depth: number): Yaml => {
    if (depth > maxVariableDepth) {
      throw new Error(
        `${sources.serverlessYmlPath}: ${where}: variables nest too deeply (a cycle?) in "${text}"`,
      );
    }
    let resolved = text;
    for (
      let match = innermostVariable.exec(resolved);
      match !== null;
      match = innermostVariable.exec(resolved)
    ) {
      const rawValue = lookUp(match[1] ?? '', where);
      const value = typeof rawValue === 'string' ? resolve(rawValue, where, depth + 1) : rawValue;
      // A string that is exactly one variable takes the value itself, number or object included.
      if (match[0] === resolved) return value;
      if (typeof value === 'object' && value !== null) {
        throw new Error(
          `${sources.serverlessYmlPath}: ${where}: ${match[0]} is not a string but sits inside "${text}"`,
        );
      }
      resolved = resolved.replace(match[0], () => String(value));
    }
    if (resolved.includes('${')) {
      throw new Error(`${sources.serverlessYmlPath}: ${where}: unresolved variable in "${resolved}"`);
    }
    return resolved;
  };

  return (text, where) => resolve(text, where, 0);
}

function valueAtPath(root: YamlObject, path: string): Yaml | undefined {
  let node: Yaml | undefined = root;
  for (const segment of path.split('.')) {
    node = isObject(node) && Object.hasOwn(node, segment) ? node[segment] : undefined;
  }
  return node;
}

function splitOnce(text: string, separator: string): [string, string?] {
  const index = text.indexOf(separator);
  return index === -1 ? [text] : [text.slice(0, index), text.slice(index + separator.length)];
}

function isObject(value: Yaml | undefined): value is YamlObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: Yaml | undefined, where: string): YamlObject {
  if (!isObject(value)) throw new Error(`${where}: expected a mapping`);
  return value;
}

/**
 * serverless.yml uses CloudFormation's short tags (`!Sub`, `!Ref`...) elsewhere in the file; the
 * parser must accept them in every form (scalar, sequence, mapping). They become the long form
 * (`{ 'Fn::Sub': ... }`), which the definition resolver then rejects if one appears in a definition.
 */
const cloudFormationShortTags = [
  'Ref',
  'Condition',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'And',
  'Or',
  'Select',
  'Split',
  'Sub',
  'Transform',
];

const cloudFormationTags = cloudFormationShortTags.flatMap((shortName): Array<ScalarTag | CollectionTag> => {
  const longName = shortName === 'Ref' || shortName === 'Condition' ? shortName : `Fn::${shortName}`;
  return [
    {
      tag: `!${shortName}`,
      // `!GetAtt Resource.Attribute` is the scalar spelling of `Fn::GetAtt: [Resource, Attribute]`.
      resolve: (value) => ({ [longName]: shortName === 'GetAtt' ? splitOnce(value, '.') : value }),
    },
    ...(['map', 'seq'] as const).map((collection): CollectionTag => ({
      tag: `!${shortName}`,
      collection,
      resolve: (node) => ({ [longName]: node.toJSON() as unknown }),
    })),
  ];
});
