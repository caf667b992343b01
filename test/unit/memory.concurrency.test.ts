import { concurrencyContract } from '../contract/concurrencyContract.ts';
import { memoryKind } from '../support/stores.ts';

concurrencyContract(memoryKind, { producers: 16, recordsPerProducer: 400, faultRate: 0.05 });
