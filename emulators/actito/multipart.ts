import { HttpError } from './http';

export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** Splits a `multipart/form-data` body (the v4 import sends `inputFile` + `parameters` [D S12, C C3]). */
export function parseMultipart(body: Buffer, contentType: string | undefined): Part[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!contentType?.toLowerCase().startsWith('multipart/form-data') || !m) {
    throw new HttpError(400, 'expected a multipart/form-data body with a boundary');
  }
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd);
    if (headerEnd < 0 || next < 0) throw new HttpError(400, 'malformed multipart body');
    const headers = body.toString('utf8', start, headerEnd);
    const disp = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disp)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1];
    if (name !== undefined) {
      parts.push({
        name,
        data: body.subarray(headerEnd + 4, next),
        ...(filename !== undefined ? { filename } : {}),
        ...(type ? { contentType: type.trim() } : {}),
      });
    }
    pos = next + 2;
  }
  return parts;
}
