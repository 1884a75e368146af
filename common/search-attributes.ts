/** Search attributes syncline sets on its workflows (registered on the dev server by scripts/services). */
import { defineSearchAttributeKey } from '@temporalio/common';

export const healthKey = defineSearchAttributeKey('SynclineHealth', 'KEYWORD');
export const activationKey = defineSearchAttributeKey('SynclineActivation', 'KEYWORD');
export const destinationKey = defineSearchAttributeKey('SynclineDestination', 'KEYWORD');

export const SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = {
  SynclineHealth: 'Keyword',
  SynclineActivation: 'Keyword',
  SynclineDestination: 'Keyword',
};
export type Health = 'ok' | 'warning' | 'critical';
