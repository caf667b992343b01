/**
 * `npm start`: the hermetic local stack. Starts DynamoDB Local on 127.0.0.1 (data under
 * `.sluice/dynamodb`, or in memory with --in-memory) and creates Sluice's tables.
 *
 *   npm start                     # data kept between runs
 *   npm start -- --in-memory      # throwaway
 *   npm start -- --dynamodb-port 8000
 */
import { parseArgs } from 'node:util';
import { createTables } from '../core/adapters/dynamodb/createTables.ts';
import { localAwsEnv, dynamoClientFromEnv } from './awsEnv.ts';
import { JAVA_MISSING, startDynamoDbLocal } from './dynamoDbLocal.ts';

const { values } = parseArgs({
  options: {
    'in-memory': { type: 'boolean', default: false },
    'dynamodb-port': { type: 'string', default: '8000' },
    'data-dir': { type: 'string', default: '.sluice' },
  },
});

let dynamo;
try {
  dynamo = await startDynamoDbLocal({
    port: Number(values['dynamodb-port']),
    ...(values['in-memory'] ? {} : { dbPath: `${values['data-dir']}/dynamodb` }),
  });
} catch (e) {
  console.error(e instanceof Error && e.message === JAVA_MISSING ? JAVA_MISSING : e);
  process.exit(1);
}
Object.assign(process.env, localAwsEnv(dynamo.endpoint));
const tables = { log: 'sluice-log', metadata: 'sluice-metadata' };
await createTables(dynamoClientFromEnv(), tables);

console.log(`Sluice local stack is up.
  DynamoDB Local  ${dynamo.endpoint}${dynamo.loopbackOnly ? '' : '  (warning: javac missing, listening on all interfaces)'}
  Tables          ${tables.log}, ${tables.metadata}
  Data            ${values['in-memory'] ? 'in memory (gone on exit)' : `${values['data-dir']}/dynamodb`}

Try it from another shell:
  AWS_ENDPOINT_URL_DYNAMODB=${dynamo.endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \\
    SLUICE_LOG_TABLE=${tables.log} SLUICE_METADATA_TABLE=${tables.metadata} node examples/quickstart.ts

Ctrl-C stops everything.`);

const shutdown = async (): Promise<void> => {
  await dynamo.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
