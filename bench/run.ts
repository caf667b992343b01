/**
 * `npm run bench [-- --only append]`: starts DynamoDB Local in memory (unless AWS_ENDPOINT_URL or
 * AWS_ENDPOINT_URL_DYNAMODB is set), runs each section, prints its Markdown table, and ends with one
 * line of JSON holding every section's summary.
 */
import { parseArgs } from 'node:util';
import { dynamoClientFromEnv, localAwsEnv } from '../local/awsEnv.ts';
import { startDynamoDbLocal } from '../local/dynamoDbLocal.ts';
import { appendSection } from './sections/append.ts';
import { groupsSection } from './sections/groups.ts';
import { handlersSection } from './sections/handlers.ts';
import { httpOverheadSection } from './sections/httpOverhead.ts';
import type { BenchSection } from './section.ts';

const sections: BenchSection[] = [appendSection, handlersSection, httpOverheadSection, groupsSection];
const { values } = parseArgs({ options: { only: { type: 'string', multiple: true } } });
const chosen = sections.filter((s) => values.only === undefined || values.only.includes(s.name));

const external = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
const dynamo = external === undefined ? await startDynamoDbLocal() : undefined;
if (dynamo !== undefined) Object.assign(process.env, localAwsEnv(dynamo.endpoint));
const client = dynamoClientFromEnv();

const summary: Record<string, number | string> = {};
try {
  for (const section of chosen) {
    console.error(`# running ${section.name}…`);
    const result = await section.run(client);
    console.log(`\n## ${result.title}\n\n${result.table}\n`);
    for (const note of result.notes) console.log(`- ${note}`);
    Object.assign(summary, result.summary);
  }
} finally {
  await dynamo?.stop();
}
console.log();
console.log(JSON.stringify(summary));
