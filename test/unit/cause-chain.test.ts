import { ServiceError } from '@temporalio/client';
import { causeChainText } from '../../common/errors';

test("an error's words and its causes', each said once", () => {
  // As the Temporal client raises a refused query: its own words, the gRPC error (status in the message, the server's words in details).
  const grpc = Object.assign(new Error('9 FAILED_PRECONDITION: Unable to query workflow due to Workflow Task in failed state.'), {
    code: 9,
    details: 'Unable to query workflow due to Workflow Task in failed state.',
  });
  expect(causeChainText(new ServiceError('Failed to query Workflow', { cause: grpc }))).toBe(
    'Failed to query Workflow: 9 FAILED_PRECONDITION: Unable to query workflow due to Workflow Task in failed state.',
  );
  const deadline = Object.assign(new Error('4 DEADLINE_EXCEEDED'), { details: 'context deadline exceeded' });
  expect(causeChainText(new Error('status', { cause: deadline }))).toBe('status: 4 DEADLINE_EXCEEDED: context deadline exceeded');
  expect(causeChainText('plain')).toBe('plain');
  expect(causeChainText(undefined)).toBe('');
});
