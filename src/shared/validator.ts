import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { RE2JS } from "@bufbuild/re2";

/**
 * A pattern V8's RegExp may match in protovalidate's place: only literals,
 * classes, groups, alternation and bounded repeats (`?`, `{m}`, `{m,n}`), no
 * escapes and no `*`, `+` or `{m,}`. Such a pattern matches in time linear in
 * the input whatever the engine, and means the same in RE2 and in JavaScript.
 */
const NATIVE_SAFE = /^(?:[\w^$()|[\]?,/#:@ .-]|\{\d+(?:,\d+)?\})*$/;

export function isNativeSafePattern(pattern: string): boolean {
  return NATIVE_SAFE.test(pattern);
}

const MAX_PATTERNS = 1024;

/**
 * The contract's `string.pattern` rules and CEL `matches()` calls, by V8's
 * RegExp where that is safe and by RE2 otherwise. protovalidate's default
 * (RE2 in JavaScript, for every pattern) was a third of the validation cost
 * of a GetIssue request: every name is checked against a pattern. Every
 * pattern in the contract is native-safe (test/unit/validator.test.ts).
 */
function regexMatch(): (pattern: string, against: string) => boolean {
  // The contract's patterns are a fixed set; RE2 is there for a pattern that is not.
  const compiled = new Map<string, { test(input: string): boolean }>();
  return (pattern, against) => {
    let matcher = compiled.get(pattern);
    if (matcher === undefined) {
      // Bounded like RE2's own cache, should a rule ever build patterns from input.
      if (compiled.size >= MAX_PATTERNS) compiled.clear();
      matcher = isNativeSafePattern(pattern) ? new RegExp(pattern, "u") : RE2JS.compile(pattern);
      compiled.set(pattern, matcher);
    }
    return matcher.test(against);
  };
}

/** The request validator every API call goes through (see apiHandlerOptions). */
export function createRequestValidator(): Validator {
  return createValidator({ regexMatch: regexMatch() });
}
