import { handlerSuite } from './handlerSuite.ts';

/** The other half of the fuzzed routes, in a file of its own so that both halves run at once. */
handlerSuite({ shard: 1, shards: 2, recorded: false });
