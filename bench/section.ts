import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** One section of `npm run bench`: prints a Markdown table and contributes summary fields. */
export interface BenchSection {
  readonly name: string;
  run(client: DynamoDBClient): Promise<BenchResult>;
}

export interface BenchResult {
  readonly title: string;
  readonly table: string;
  readonly notes: readonly string[];
  readonly summary: Record<string, number | string>;
}
