/** The destinations this build ships. A new destination is one folder under connectors/ and one line here. */
import type { DestinationConnector } from './types';
import { salesforceConnector } from './salesforce';
import { actitoConnector } from './actito';

export function builtInConnectors(): DestinationConnector<any>[] {
  return [salesforceConnector, actitoConnector];
}
