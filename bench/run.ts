/**
 * `npm run bench [-- --only append]`: starts DynamoDB Local in memory (unless AWS_ENDPOINT_URL or
 * AWS_ENDPOINT_URL_DYNAMODB is set), runs each section, prints its Markdown table, and ends with one
 * line of JSON holding every section's summary.
 */
import { parseArgs } from 'node:util';
import { dynamoClientFromEnv, localAwsEnv } from '../local/awsEnv.ts';
import { startDynamoDbLocal } from '../local/dynamoDbLocal.ts';
import { aclSection } from './sections/acl.ts';
import { appendSection } from './sections/append.ts';
import { consoleSection } from './sections/console.ts';
import { contentionSection } from './sections/contention.ts';
import { costPerMessageSection } from './sections/costPerMessage.ts';
import { eventStoreSection } from './sections/eventStore.ts';
import { exchangesSection } from './sections/exchanges.ts';
import { groupsSection } from './sections/groups.ts';
import { handlersSection } from './sections/handlers.ts';
import { httpOverheadSection } from './sections/httpOverhead.ts';
import { idleSection } from './sections/idle.ts';
import { queuesSection } from './sections/queues.ts';
import { sagasSection } from './sections/sagas.ts';
import { subscriptionsSection } from './sections/subscriptions.ts';
import { s3TopicsSection } from './sections/s3Topics.ts';
import { scaleSection } from './sections/scale.ts';
import { streamsSection } from './sections/streams.ts';
import { tieringSection } from './sections/tiering.ts';
import { transactionsSection } from './sections/transactions.ts';
import { startS3Emulator } from '../local/s3Emulator.ts';
import type { BenchSection } from './section.ts';

const sections: BenchSection[] = [
  appendSection,
  handlersSection,
  httpOverheadSection,
  groupsSection,
  tieringSection,
  sagasSection,
  scaleSection,
  contentionSection,
  costPerMessageSection,
  aclSection,
  exchangesSection,
  queuesSection,
  subscriptionsSection,
  idleSection,
  transactionsSection,
  eventStoreSection,
  streamsSection,
  s3TopicsSection,
  consoleSection,
];
const { values } = parseArgs({ options: { only: { type: 'string', multiple: true } } });
const chosen = sections.filter((s) => values.only === undefined || values.only.includes(s.name));

const external = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
const dynamo = external === undefined ? await startDynamoDbLocal() : undefined;
const s3 = external === undefined ? await startS3Emulator({ bucket: 'bench-segments' }) : undefined;
const localEnv = dynamo === undefined ? {} : { ...localAwsEnv(dynamo.endpoint), ...(s3?.env ?? {}) };
Object.assign(process.env, localEnv);
const client = dynamoClientFromEnv();

const summary: Record<string, number | string> = {};
try {
  for (const section of chosen) {
    console.error(`# running ${section.name}…`);
    Object.assign(process.env, localEnv); // a section that starts a local stack changes these
    const result = await section.run(client);
    console.log(`\n## ${result.title}\n\n${result.table}\n`);
    for (const note of result.notes) console.log(`- ${note}`);
    Object.assign(summary, result.summary);
  }
} finally {
  await s3?.stop();
  await dynamo?.stop();
}
console.log();
console.log(JSON.stringify(summary));
