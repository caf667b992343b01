import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Environment for talking to local emulators. Endpoints are never hard-coded in the code that
 * uses them: the AWS SDK reads `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` itself, so the
 * same code and tests run against DynamoDB Local, LocalStack or AWS.
 */
export function localAwsEnv(dynamoEndpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    // s3rver accepts only this key id; DynamoDB Local accepts any. Never real credentials here.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** A DynamoDB client configured from the environment (region, credentials, endpoint). */
export function dynamoClientFromEnv(): DynamoDBClient {
  return new DynamoDBClient({ maxAttempts: 5 });
}
