// Writes watch events in Kubernetes' protobuf encoding, as kube-apiserver does (the layout is described in
// src/kube/watch-protobuf.ts), so the decoder and the list-watch can be tested without an API server; a
// frame captured from a real one is in src/kube/watch-protobuf.test.ts beside these.

type Part = Buffer | Uint8Array;

export function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2): a string, bytes or an embedded message. */
export function field(number: number, contents: Part | string): Buffer {
  const bytes = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : Buffer.from(contents);
  return Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
}

/** A varint field (wire type 0). */
export function numberField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number * 8), varint(value)]);
}

export interface ProtobufMetadata {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Extra encoded fields appended to the ObjectMeta (managedFields, unknown ones). */
  extra?: Buffer[];
}

function map(number: number, entries: Record<string, string> | undefined): Buffer[] {
  return Object.entries(entries ?? {}).map(([key, value]) =>
    field(number, Buffer.concat([field(1, key), field(2, value)])),
  );
}

/** An ObjectMeta as the API server writes it: every string field present, empty ones too. */
export function objectMeta(metadata: ProtobufMetadata): Buffer {
  return Buffer.concat([
    field(1, metadata.name ?? ''),
    field(2, ''),
    field(3, metadata.namespace ?? ''),
    field(4, ''),
    field(5, 'a1b2c3d4-0000-4000-8000-000000000000'),
    field(6, metadata.resourceVersion ?? ''),
    numberField(7, 0),
    field(8, Buffer.concat([numberField(1, 1_764_633_600), numberField(2, 0)])),
    ...map(11, metadata.labels),
    ...map(12, metadata.annotations),
    ...(metadata.extra ?? []),
  ]);
}

/** The "k8s\0" envelope (runtime.Unknown) around an object's own message. */
export function enveloped(apiVersion: string, kind: string, raw: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([0x6b, 0x38, 0x73, 0x00]),
    field(1, Buffer.concat([field(1, apiVersion), field(2, kind)])),
    field(2, raw),
    field(3, ''),
    field(4, ''),
  ]);
}

/** A WatchEvent message, without its frame length. */
export function watchEventMessage(type: string, object: Buffer): Buffer {
  return Buffer.concat([field(1, type), field(2, field(1, object))]);
}

/** One frame of a protobuf watch answer: the 4-byte length, then the WatchEvent. */
export function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(message.length);
  return Buffer.concat([length, message]);
}

/** A PartialObjectMetadata watch event's frame. */
export function metadataEvent(type: string, metadata: ProtobufMetadata): Buffer {
  return frame(
    watchEventMessage(
      type,
      enveloped('meta.k8s.io/v1', 'PartialObjectMetadata', field(1, objectMeta(metadata))),
    ),
  );
}

/** An ERROR event's frame: a Status with its code and message. */
export function statusEvent(code: number, message: string): Buffer {
  const status = Buffer.concat([
    field(1, Buffer.alloc(0)),
    field(2, 'Failure'),
    field(3, message),
    field(4, code === 410 ? 'Expired' : 'InternalError'),
    numberField(6, code),
  ]);
  return frame(watchEventMessage('ERROR', enveloped('v1', 'Status', status)));
}

/** The bookmark that ends a watch-list's initial events. */
export function initialEventsEndEvent(resourceVersion: string): Buffer {
  return metadataEvent('BOOKMARK', {
    resourceVersion,
    annotations: { 'k8s.io/initial-events-end': 'true' },
  });
}

/** The content type of the answer these frames make up. */
export const PROTOBUF_WATCH_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf;stream=watch';
