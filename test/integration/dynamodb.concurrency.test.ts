import { concurrencyContract } from '../contract/concurrencyContract.ts';
import { dynamoKind } from '../support/stores.ts';

// The bar: at least 8 producers and 2,000 records on one partition, through DynamoDB Local.
concurrencyContract(dynamoKind, { producers: 8, recordsPerProducer: 260, faultRate: 0.05 });
