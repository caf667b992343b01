import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { SagaInfo, SagaLauncher } from '../../core/sagas/sagas.ts';
import type { SagaExecutionInput } from '../../core/sagas/stateMachine.ts';

/**
 * Starts executions on Step Functions; the endpoint follows `AWS_ENDPOINT_URL_SFN` (the local
 * stack's interpreter, LocalStack, or AWS). The execution is named by its id, so Step Functions
 * itself also refuses a second Standard execution of the same name.
 */
export class StepFunctionsLauncher implements SagaLauncher {
  private readonly client: SFNClient;

  constructor(client: SFNClient = new SFNClient({})) {
    this.client = client;
  }

  async start(saga: SagaInfo, executionId: string, input: SagaExecutionInput): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: saga.stateMachineArn,
          name: executionId,
          input: JSON.stringify(input),
        }),
      );
    } catch (e) {
      // Started by an earlier attempt of this same call (Sluice checked the input already).
      if (e instanceof ExecutionAlreadyExists || (e as { name?: string }).name === 'ExecutionAlreadyExists') return;
      throw e;
    }
  }
}
