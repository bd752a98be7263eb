import { loadConfig, type Config } from '../../config';

const resets: Array<() => void> = [];

/**
 * Defines a composition root: `build` wires, from the config, the adapters and use cases that one
 * kind of function uses, and nothing else, so that function's bundle holds nothing else either
 * (what a cold start parses; BENCHMARKS.md, part 1). The getter builds on its first call and keeps
 * the result for the container's life (module scope keeps clients and connections warm between
 * invocations). A build that throws (a ConfigurationError) keeps nothing: the next call tries again.
 */
export function compositionRoot<Root>(build: (config: Config) => Root): () => Root {
  let built: Root | undefined;
  resets.push(() => {
    built = undefined;
  });
  return () => (built ??= build(loadConfig()));
}

/**
 * Drops every root built so far, so that the next call builds it again from `process.env` (tests
 * and the local stack, after changing the environment). A root registers when its module loads;
 * one not loaded yet holds nothing to drop.
 */
export function resetCompositionRoots(): void {
  for (const reset of resets) reset();
}
