/**
 * Error shapes (API notes §6): per-record errors use `statusCode` (Collections, and Bulk's sf__Error
 * string); call-level REST errors are an array of `{message, errorCode, fields?}`.
 */
export interface SfError {
  statusCode: string;
  message: string;
  fields: string[];
  /** DUPLICATES_DETECTED: the rule and the matching records (REST and Collections; Bulk's sf__Error has no room for it). */
  duplicateResult?: Record<string, unknown>;
}

export interface RowResult {
  id: string | null;
  success: boolean;
  errors: SfError[];
  created?: boolean;
}

export function sfError(statusCode: string, message: string, fields: string[] = []): SfError {
  return { statusCode, message, fields };
}

export function failed(errors: SfError[], id: string | null = null): RowResult {
  return { id, success: false, errors };
}

/** Call-level body: `[{"message","errorCode","fields"}]`. */
export function restErrors(errors: SfError[]): Array<Record<string, unknown>> {
  return errors.map((e) => ({
    ...(e.duplicateResult ? { duplicateResult: e.duplicateResult } : {}),
    message: e.message,
    errorCode: e.statusCode,
    ...(e.fields.length > 0 ? { fields: e.fields } : {}),
  }));
}

export function restError(errorCode: string, message: string): Array<Record<string, unknown>> {
  return [{ message, errorCode }];
}

/** Bulk 2.0 sf__Error text: `CODE:message:field1,field2 --` (e.g. `INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--`). */
export function bulkErrorString(errors: SfError[]): string {
  const e = errors[0];
  if (!e) return '';
  return `${e.statusCode}:${e.message}:${e.fields.length > 0 ? `${e.fields.join(',')} ` : ''}--`;
}

export const NOT_FOUND_MESSAGE = 'The requested resource does not exist';
export const ROLLED_BACK = sfError(
  'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  'Record rolled back because not all records were valid and the request was using AllOrNone header',
);
