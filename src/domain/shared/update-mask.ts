import type { FieldMask } from "@bufbuild/protobuf/wkt";

/**
 * The fields an Update changes (AIP-134): the mask's paths, all writable
 * fields for `*`, none for an empty or missing mask. The contract has already
 * rejected paths that are not writable.
 */
export function maskedFields<Field extends string>(
  mask: FieldMask | undefined,
  writable: readonly Field[],
): Set<Field> {
  const paths = mask?.paths ?? [];
  if (paths.includes("*")) return new Set(writable);
  return new Set(writable.filter((field) => paths.includes(field)));
}
