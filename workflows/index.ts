/** Every workflow syncline registers (the worker bundles this file). */
export { activationWorkflow } from './activation';
export { syncRunWorkflow } from './sync-run';
export { dagWorkflow, dagMapBatchWorkflow } from './dag-workflow';
export { warningsWorkflow } from './warnings';
export { writeChunksWorkflow } from './write-chunks';
