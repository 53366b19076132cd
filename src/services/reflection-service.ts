import { type DescFile, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/proto/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * gRPC server reflection (v1 and the v1alpha that older grpcurl builds use)
 * over protobuf-es file descriptors, so `grpcurl -plaintext host:port list`
 * and `describe` need no .proto files. The two versions have the same
 * messages under different packages, so one implementation serves both.
 */
export function reflectionService(files: DescFile[]) {
  const index = indexFiles(files);
  const serviceNames = [
    ...new Set(files.flatMap((file) => file.services.map((service) => service.typeName))),
  ];
  return (router: ConnectRouter) => {
    router.service(v1.ServerReflection, {
      serverReflectionInfo: (requests) => answerAll(requests, index, serviceNames),
    });
    router.service(v1alpha.ServerReflection, {
      // Same wire shape as v1; only the generated type names differ.
      serverReflectionInfo: (requests) =>
        answerAll(requests, index, serviceNames) as AsyncIterable<
          MessageInitShape<typeof v1alpha.ServerReflectionResponseSchema>
        >,
    });
  };
}

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
type Response = MessageInitShape<typeof v1.ServerReflectionResponseSchema>;

async function* answerAll(
  requests: AsyncIterable<Request>,
  index: FileIndex,
  serviceNames: string[],
): AsyncIterable<Response> {
  for await (const request of requests) {
    // The original request goes back as sent; v1 and v1alpha share its shape.
    const originalRequest = { ...request, $typeName: undefined } as MessageInitShape<
      typeof v1.ServerReflectionRequestSchema
    >;
    yield { validHost: request.host, originalRequest, messageResponse: answer(request, index, serviceNames) };
  }
}

function answer(request: Request, index: FileIndex, serviceNames: string[]): Response["messageResponse"] {
  const { messageRequest } = request;
  switch (messageRequest.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: serviceNames.map((name) => ({ name })) } };
    case "fileByFilename":
      return filesResponse(index.byFilename.get(messageRequest.value), index, messageRequest.value);
    case "fileContainingSymbol":
      return filesResponse(findSymbol(index, messageRequest.value), index, messageRequest.value);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = messageRequest.value;
      const file = index.extensions.get(containingType)?.get(extensionNumber);
      return filesResponse(file, index, `${containingType}(${extensionNumber})`);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensions.get(messageRequest.value);
      if (!index.bySymbol.has(messageRequest.value)) return notFound(messageRequest.value);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: messageRequest.value, extensionNumber: [...(numbers?.keys() ?? [])] },
      };
    }
    default:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "unknown request" },
      };
  }
}

function notFound(what: string): Response["messageResponse"] {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/** The file and everything it imports, dependencies first, as grpcurl expects. */
function filesResponse(
  file: DescFile | undefined,
  index: FileIndex,
  what: string,
): Response["messageResponse"] {
  if (!file) return notFound(what);
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (current: DescFile) => {
    if (seen.has(current.proto.name)) return;
    seen.add(current.proto.name);
    for (const dependency of current.dependencies) visit(dependency);
    ordered.push(current);
  };
  visit(file);
  // The requested file first, then its dependencies (gRPC reflection convention).
  ordered.reverse();
  return {
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: ordered.map((entry) => index.encoded.get(entry.proto.name) as Uint8Array) },
  };
}

/** Symbols may name a method or field too: fall back to the enclosing type. */
function findSymbol(index: FileIndex, symbol: string): DescFile | undefined {
  for (let name = symbol; name.length > 0; name = name.slice(0, Math.max(name.lastIndexOf("."), 0))) {
    const file = index.bySymbol.get(name);
    if (file) return file;
  }
  return undefined;
}

interface FileIndex {
  byFilename: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
  /** Extended message type name -> field number -> file declaring the extension. */
  extensions: Map<string, Map<number, DescFile>>;
  encoded: Map<string, Uint8Array>;
}

function indexFiles(roots: DescFile[]): FileIndex {
  const index: FileIndex = {
    byFilename: new Map(),
    bySymbol: new Map(),
    extensions: new Map(),
    encoded: new Map(),
  };
  const addExtension = (extendee: string, number: number, file: DescFile) => {
    const numbers = index.extensions.get(extendee) ?? new Map<number, DescFile>();
    numbers.set(number, file);
    index.extensions.set(extendee, numbers);
  };
  const addMessage = (message: DescMessage, file: DescFile) => {
    index.bySymbol.set(message.typeName, file);
    for (const nested of message.nestedMessages) addMessage(nested, file);
    for (const nested of message.nestedEnums) index.bySymbol.set(nested.typeName, file);
    for (const extension of message.nestedExtensions) {
      index.bySymbol.set(extension.typeName, file);
      addExtension(extension.extendee.typeName, extension.number, file);
    }
  };
  const addFile = (file: DescFile) => {
    if (index.byFilename.has(file.proto.name)) return;
    index.byFilename.set(file.proto.name, file);
    index.encoded.set(file.proto.name, toBinary(FileDescriptorProtoSchema, file.proto));
    for (const dependency of file.dependencies) addFile(dependency);
    for (const message of file.messages) addMessage(message, file);
    for (const enumeration of file.enums) index.bySymbol.set(enumeration.typeName, file);
    for (const service of file.services) index.bySymbol.set(service.typeName, file);
    for (const extension of file.extensions) {
      index.bySymbol.set(extension.typeName, file);
      addExtension(extension.extendee.typeName, extension.number, file);
    }
  };
  for (const root of roots) addFile(root);
  return index;
}
