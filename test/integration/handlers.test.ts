import { handlerSuite } from './handlerSuite.ts';

/** The recorded requests, and half the fuzzed routes (the other half: handlers.fuzz.test.ts). */
handlerSuite({ shard: 0, shards: 2, recorded: true });
