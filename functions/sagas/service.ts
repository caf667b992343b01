import { parseSagaCatalog, Sagas } from '../../core/sagas/sagas.ts';
import { sagaExecutions } from './stores.ts';
import { StepFunctionsLauncher } from './sfnLauncher.ts';

/** The deployed sagas: `SLUICE_SAGAS`, set by the stack (and by the local stack from the same template). */
export const sagas = new Sagas({
  catalog: parseSagaCatalog(process.env.SLUICE_SAGAS),
  executions: sagaExecutions,
  launcher: new StepFunctionsLauncher(),
});
