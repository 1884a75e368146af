/**
 * History <-> proto JSON (the format of `temporal workflow show --output json`), as the SDK's
 * historyToJSON / historyFromJSON (@temporalio/common/lib/proto-utils) do it, with one difference: the
 * protobufjs used is the copy that built @temporalio/proto's types. With the lock file's layout,
 * @temporalio/common and @temporalio/proto each get their own copy of protobufjs 8 (the top level holds
 * 7, for another package), so the SDK's functions fail their `instanceof Type` check with "type must be
 * a Type" on every history: they cannot read or write a history file in this project.
 */
import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

export type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): History;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved from @temporalio/proto's own directory, which an import cannot express
const protojson = require(
  require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto/package.json'))] }),
) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

/** Unknown fields (a newer server's) are ignored, as the SDK does. */
export function historyFromJSON(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
}
