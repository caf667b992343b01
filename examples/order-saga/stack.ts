import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { bindTable } from '../../infra/bindTable.ts';
import { Saga } from '../../infra/sagas/saga.ts';
import type { SluiceStack } from '../../infra/sluiceStack.ts';
import { ORDER_TABLES_ENV, orderSaga } from './saga.ts';

/**
 * The order saga deployed next to Sluice: the inventory and payments tables and the `Saga`
 * construct. Each step's function may touch only the table its step changes.
 */
export class OrderSagaExample extends Construct {
  readonly inventory: Table;
  readonly payments: Table;
  readonly saga: Saga;

  constructor(
    scope: Construct,
    id: string,
    props: { sluice: SluiceStack; type?: 'STANDARD' | 'EXPRESS'; removalPolicy?: RemovalPolicy },
  ) {
    super(scope, id);
    const tableProps = {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    };
    this.inventory = new Table(this, 'Inventory', tableProps);
    this.payments = new Table(this, 'Payments', tableProps);
    this.saga = new Saga(this, 'Saga', {
      sluice: props.sluice,
      definition: orderSaga,
      entry: 'examples/order-saga/saga.ts',
      ...(props.type === undefined ? {} : { type: props.type }),
      environment: {
        [ORDER_TABLES_ENV.inventory]: this.inventory.tableName,
        [ORDER_TABLES_ENV.payments]: this.payments.tableName,
      },
      configureStep: (step, fn) => {
        const changes = step === 'ChargePayment' ? this.payments : this.inventory;
        bindTable({
          table: changes,
          grantee: fn,
          actions:
            step === 'ShipOrder'
              ? ['dynamodb:PutItem', 'dynamodb:GetItem']
              : ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        });
      },
    });
  }
}
