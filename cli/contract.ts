// The contract as the CLI reads it: every service, RPC, message and field of
// tracker.v1, with the proto comments. protoc-gen-es embeds descriptors
// without source info, so they come from gen/descriptors/tracker.binpb, the
// image `npm run codegen` builds from the same protos (`buf build`, checked
// for drift with the rest of gen/); its imports resolve to the generated
// files. Nothing here names an RPC: new ones become commands by themselves.
import { readFileSync } from "node:fs";
import {
  create,
  createFileRegistry,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
  type FileRegistry,
  fromBinary,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import * as wkt from "@bufbuild/protobuf/wkt";
import { FieldBehavior, field_behavior } from "../gen/proto/google/api/field_behavior_pb.js";
import {
  type ResourceDescriptor,
  resource,
  resource_reference,
} from "../gen/proto/google/api/resource_pb.js";

const IMAGE = new URL("../gen/descriptors/tracker.binpb", import.meta.url);
/** Callable with `tracker call` too, though not part of tracker.v1. */
const HEALTH = "grpc/health/v1/health.proto";

export interface Contract {
  registry: FileRegistry;
  /** tracker.v1's services, then grpc.health.v1.Health. */
  services: DescService[];
  /** The google.api.resource of each resource message, by its type (`tracker.dev/Issue`). */
  resources: Map<string, { message: DescMessage; descriptor: ResourceDescriptor }>;
}

let loaded: Contract | undefined;

export function contract(): Contract {
  if (!loaded) throw new Error("loadContract() first");
  return loaded;
}

/**
 * Reads the image. Its files' imports that are not in it resolve to the
 * generated descriptors: the well-known types from @bufbuild/protobuf, the
 * rest from gen/proto/ (vendored protos, generated like ours).
 */
export async function loadContract(): Promise<Contract> {
  if (loaded) return loaded;
  const image = fromBinary(wkt.FileDescriptorSetSchema, readFileSync(IMAGE));
  const inImage = new Map(image.file.map((file) => [file.name, file]));
  const imports = new Set([HEALTH, ...image.file.flatMap((file) => file.dependency)]);
  const generated = new Map<string, DescFile>();
  for (const name of imports) if (!inImage.has(name)) generated.set(name, await generatedFile(name));
  // One registry over every file, each built once: a root that imports them
  // all, last first, since the registry builds a root's imports in reverse
  // (and the image lists a file after its imports).
  const root = create(wkt.FileDescriptorProtoSchema, {
    name: "tracker-cli.proto",
    dependency: [HEALTH, ...[...inImage.keys()].reverse()],
  });
  const registry = createFileRegistry(root, (name) => inImage.get(name) ?? generated.get(name));
  const services: DescService[] = [];
  const resources = new Map<string, { message: DescMessage; descriptor: ResourceDescriptor }>();
  for (const name of [...inImage.keys(), HEALTH]) {
    const file = registry.getFile(name);
    if (!file) continue;
    services.push(...file.services);
    for (const message of allMessages(file.messages))
      if (hasOption(message, resource)) {
        const descriptor = getOption(message, resource);
        resources.set(descriptor.type, { message, descriptor });
      }
  }
  loaded = { registry, services, resources };
  return loaded;
}

async function generatedFile(protoName: string): Promise<DescFile> {
  const isFile = (value: unknown): value is DescFile =>
    typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "file";
  // Where protoc-gen-es wrote it, e.g. gen/proto/buf/validate/validate_pb.ts.
  const generated = `../gen/proto/${protoName.replace(/\.proto$/, "_pb.js")}`;
  const candidates: unknown[] = protoName.startsWith("google/protobuf/")
    ? Object.values(wkt)
    : Object.values(await import(/* @vite-ignore */ generated));
  const file = candidates.filter(isFile).find((candidate) => candidate.proto.name === protoName);
  if (!file) throw new Error(`${protoName}, imported by the contract, is not generated`);
  return file;
}

function allMessages(messages: DescMessage[]): DescMessage[] {
  return messages.flatMap((message) => [message, ...allMessages(message.nestedMessages)]);
}

export function behaviorsOf(field: DescField): FieldBehavior[] {
  return hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
}

export const isRequired = (field: DescField) => behaviorsOf(field).includes(FieldBehavior.REQUIRED);

/** The resource a string field names (`google.api.resource_reference`), if it says. */
export function referencedResource(field: DescField): ResourceDescriptor | undefined {
  if (!hasOption(field, resource_reference)) return undefined;
  return contract().resources.get(getOption(field, resource_reference).type)?.descriptor;
}

export function resourceOf(message: DescMessage): ResourceDescriptor | undefined {
  return hasOption(message, resource) ? getOption(message, resource) : undefined;
}

/** `IssueService/GetIssue`, `tracker.v1.IssueService/GetIssue` or `tracker.v1.IssueService.GetIssue`. */
export function findMethod(reference: string): DescMethod | undefined {
  const match = /^(?<service>[\w.]+)[/.](?<method>\w+)$/.exec(reference);
  if (!match?.groups) return undefined;
  const { service, method } = match.groups;
  for (const candidate of contract().services)
    if (candidate.typeName === service || candidate.name === service)
      return candidate.methods.find((m) => m.name === method);
  return undefined;
}

/** A service, method or message by full or short name, for `tracker describe`. */
export function findDescribable(name: string): DescService | DescMethod | DescMessage | undefined {
  const { services, registry } = contract();
  return (
    services.find((service) => service.typeName === name || service.name === name) ??
    findMethod(name) ??
    registry.getMessage(name) ??
    services.map((service) => registry.getMessage(`${service.file.proto.package}.${name}`)).find(Boolean)
  );
}
