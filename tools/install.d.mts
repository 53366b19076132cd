/** Builds the named Go CLIs (atlas, grpcurl, task, openapi) that are missing or stale into .tools/bin. */
export function installTools(names: string[]): Promise<void>;
