/** Shapes shared by the Actito emulator modules (API notes §2: v5 structures, value types). */

/** Value types seen in v5 JSON [D S7, S8]; BOOLEAN and DATE are [A] (CSV doc lists them, S10). */
export const VALUE_TYPES = ['STRING', 'INTEGER', 'LONG', 'NUMBER', 'BOOLEAN', 'DATE', 'TIMESTAMP'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

export function isValueType(v: unknown): v is ValueType {
  return typeof v === 'string' && (VALUE_TYPES as readonly string[]).includes(v);
}

export interface ValueRestriction {
  minLength?: number;
  maxLength?: number;
  acceptedValues?: string[];
}

export interface AttributeDef {
  name: string;
  valueType: ValueType;
  mandatory: boolean;
  indexed: boolean;
  unique: boolean;
  valueRestriction?: ValueRestriction;
  /** Profile tables only: predefined semantic (`EMAIL_ADDRESS`, `FIRSTNAME`, …) or `CUSTOM` [D S8]. */
  profileType?: string;
}

export interface ForeignKeyDef {
  name: string;
  attribute: string;
  reference: { tableType: 'PROFILE_TABLE' | 'CUSTOM_TABLE'; tableId: string; attribute: string };
  onDelete: 'CASCADE';
}

export type TableKind = 'PROFILE_TABLE' | 'CUSTOM_TABLE';

/** A JSON scalar as carried in `{name, value}` pairs [C C1 types.ts]. */
export type Scalar = string | number | boolean | null;

/** Stable per-field / per-line error codes used in 400 bodies and import reports [A]. */
export type FieldErrorCode =
  | 'UNKNOWN_ATTRIBUTE'
  | 'TECHNICAL_ATTRIBUTE'
  | 'INVALID_TYPE'
  | 'INVALID_VALUE'
  | 'MANDATORY_MISSING'
  | 'UNIQUE_VIOLATION'
  | 'TOO_LONG'
  | 'TOO_SHORT'
  | 'NOT_ACCEPTED_VALUE'
  | 'FOREIGN_KEY_NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'COLUMN_COUNT'
  | 'KEY_CHANGE';

export interface FieldError {
  field: string;
  code: FieldErrorCode;
  message: string;
}
