import type { Logger } from '#logging';
import type { RolestoreConfig } from '../config/rolestore.config';
import { BrokerAccountsService } from './broker-accounts.service';
import { RabbitMqManagementClient } from './rabbitmq-management.client';

/** The host broker users service, or null when PF9_HOST_BROKER_USERS is off. */
export function createBrokerAccounts(config: Pick<RolestoreConfig, 'hostBrokerUsers' | 'brokerManagementUrl' | 'brokerVhost'>, logger: Logger): BrokerAccountsService | null {
  if (config.hostBrokerUsers !== 'on') return null;
  return new BrokerAccountsService(new RabbitMqManagementClient(config.brokerManagementUrl, { vhost: config.brokerVhost }), logger);
}
