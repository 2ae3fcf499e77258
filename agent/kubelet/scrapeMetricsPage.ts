/**
 * One scrape of a metrics page in the format asked for, parsed as it arrives. The format
 * asked for is a preference: a server may answer text when protobuf is asked (an older
 * kubelet, a proxy, a client library without protobuf support), so the parser is chosen
 * from the response's Content-Type, as Prometheus does.
 */
import { fail, ok, type Checked } from '../../core/outcome.js';
import { ExpositionParser, type ExpositionResult } from '../exposition/parseExposition.js';
import { PROTOBUF_EXPOSITION_TYPE, ProtobufExpositionParser } from '../exposition/parseProtobuf.js';
import { decodeTextPieces, streamMetricsPageBytes, type PageRequest, type TextPieces } from './streamMetricsPage.js';

export type ExpositionFormat = 'text' | 'protobuf';

export const TEXT_EXPOSITION_TYPE = 'text/plain;version=0.0.4';

/** The Accept header for a format: protobuf first, text as the fallback a server may pick. */
export function acceptHeader(format: ExpositionFormat): string {
  return format === 'protobuf' ? `${PROTOBUF_EXPOSITION_TYPE.replaceAll('; ', ';')}, ${TEXT_EXPOSITION_TYPE};q=0.5` : TEXT_EXPOSITION_TYPE;
}

/**
 * The format of a response by its Content-Type: protobuf only for the delimited
 * `MetricFamily` encoding (what client_golang sends), text for `text/plain` or no type at
 * all (servers that do not say are text servers); undefined for anything else.
 */
export function formatOfContentType(contentType: string): ExpositionFormat | undefined {
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType === '' || mediaType === 'text/plain') return 'text';
  if (mediaType !== 'application/vnd.google.protobuf') return undefined;
  const values = new Map(parameters.map((parameter) => {
    const equals = parameter.indexOf('=');
    return [parameter.slice(0, equals).trim(), parameter.slice(equals + 1).trim().replace(/^"|"$/g, '')] as const;
  }));
  return values.get('proto') === 'io.prometheus.client.metricfamily' && values.get('encoding') === 'delimited' ? 'protobuf' : undefined;
}

export interface ScrapedPage {
  readonly result: ExpositionResult;
  /** Bytes of the body after gunzip. */
  readonly sizeBytes: number;
  /** The format the server answered in, which need not be the one asked for. */
  readonly format: ExpositionFormat;
}

/**
 * GETs the page asking for `format` and parses it in the format of the answer, reading
 * only the families `wanted` names. `request.headers` are sent but for Accept, which is
 * this function's. Every failure (those of `streamMetricsPage`, and a Content-Type that is
 * neither format) is a `fail`; a page that parses badly is a result with errors.
 */
export async function scrapeMetricsPage(request: PageRequest, format: ExpositionFormat, wanted: (family: string) => boolean, signal?: AbortSignal): Promise<Checked<ScrapedPage>> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (name.toLowerCase() !== 'accept') headers[name] = value;
  headers['accept'] = acceptHeader(format);
  const withAccept: PageRequest = { ...request, headers };
  let answered: ExpositionFormat | undefined;
  let protobufParser: ProtobufExpositionParser | undefined;
  let textParser: ExpositionParser | undefined;
  let text: TextPieces | undefined;
  const page = await streamMetricsPageBytes(
    withAccept,
    (chunk, contentType) => {
      // The format is the response's, known from its headers before the first piece.
      answered ??= formatOfContentType(contentType);
      if (answered === 'protobuf') (protobufParser ??= new ProtobufExpositionParser(wanted)).push(chunk);
      else if (answered === 'text') {
        const parser = (textParser ??= new ExpositionParser(wanted));
        (text ??= decodeTextPieces((piece) => parser.push(piece))).write(chunk);
      }
    },
    signal,
  );
  if (!page.ok) return page;
  const { sizeBytes, contentType } = page.value;
  // An empty body has no pieces: its format is read off the headers now.
  answered ??= formatOfContentType(contentType);
  if (answered === undefined) return fail(`unsupported Content-Type ${JSON.stringify(contentType.slice(0, 200))}`);
  if (answered === 'protobuf') return ok({ result: (protobufParser ?? new ProtobufExpositionParser(wanted)).finish(), sizeBytes, format: 'protobuf' });
  text?.end();
  return ok({ result: (textParser ?? new ExpositionParser(wanted)).finish(), sizeBytes, format: 'text' });
}
